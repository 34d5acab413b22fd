"""The route table: exact paths, patterns, methods, the default policy, preflight, TOML files."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from stepup_mfa import ANONYMOUS, AUTHENTICATED, ConfigurationError, Policy
from stepup_mfa.routes import Route, RouteTable, template_key

MFA = Policy(acr_values="urn:example:acr:mfa", max_age=60, name="mfa")
ADMIN = Policy(scopes="admin", name="admin")

TABLE = RouteTable(
    [
        Route("GET", "/", ANONYMOUS),
        Route("GET", "/cats/", MFA),
        Route("POST,PUT", "/cats/", ADMIN),
        Route("*", "/health", ANONYMOUS),
        Route("GET", "/users/{id}/", ADMIN),
        Route("*", "/static/{rest:path}", ANONYMOUS),
    ]
)


def test_exact_path_and_method() -> None:
    assert TABLE.policy_for("GET", "/cats/") is MFA


def test_several_methods_in_one_entry() -> None:
    assert TABLE.policy_for("PUT", "/cats/") is ADMIN


def test_head_follows_get() -> None:
    assert TABLE.policy_for("HEAD", "/cats/") is MFA


def test_star_matches_every_method() -> None:
    assert TABLE.policy_for("DELETE", "/health") is ANONYMOUS


def test_unlisted_method_gets_the_default() -> None:
    assert TABLE.policy_for("DELETE", "/cats/") is AUTHENTICATED


def test_unlisted_path_gets_authenticated_by_default() -> None:
    assert TABLE.policy_for("GET", "/elsewhere") is AUTHENTICATED


def test_default_can_be_chosen() -> None:
    table = RouteTable(
        [Route("GET", "/cats/", MFA)], default=ANONYMOUS, allow_anonymous_default=True
    )
    assert table.policy_for("GET", "/dogs/") is ANONYMOUS


def test_methods_compare_in_upper_case() -> None:
    # werkzeug and Django route "get" to the GET handler, so it must meet the GET policy.
    assert TABLE.policy_for("get", "/cats/") is MFA


def test_segment_pattern_matches_one_segment() -> None:
    assert TABLE.policy_for("GET", "/users/42/") is ADMIN


def test_segment_pattern_does_not_cross_slashes() -> None:
    assert TABLE.policy_for("GET", "/users/42/x/") is AUTHENTICATED


def test_path_pattern_matches_the_rest() -> None:
    assert TABLE.policy_for("GET", "/static/css/site.css") is ANONYMOUS


def test_pattern_text_is_literal_not_a_regex() -> None:
    table = RouteTable([Route("GET", "/a.b/{x}", ANONYMOUS)])
    assert table.policy_for("GET", "/aXb/1") is AUTHENTICATED


def test_exact_path_wins_over_an_earlier_pattern() -> None:
    table = RouteTable([Route("GET", "/u/{id}", ANONYMOUS), Route("GET", "/u/me", MFA)])
    assert table.policy_for("GET", "/u/me") is MFA


def test_first_matching_pattern_wins() -> None:
    table = RouteTable([Route("GET", "/u/{id}", MFA), Route("GET", "/u/{rest:path}", ANONYMOUS)])
    assert table.policy_for("GET", "/u/1") is MFA


def test_cors_preflight_is_anonymous() -> None:
    assert TABLE.policy_for("OPTIONS", "/cats/", preflight=True) is ANONYMOUS


def test_cors_preflight_can_be_turned_off() -> None:
    table = RouteTable([Route("GET", "/cats/", MFA)], cors_preflight=False)
    assert table.policy_for("OPTIONS", "/cats/", preflight=True) is AUTHENTICATED


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route("GET", "cats/", MFA), "must start with '/'"),
        (Route("GET", "/u/{id", MFA), "bad pattern"),
        (Route("GET", "/u/{id}/{id}", MFA), "appears twice"),
        (Route("GE T", "/x", MFA), "methods"),
        (Route("", "/x", MFA), "methods"),
    ],
)
def test_bad_python_entries_fail_at_start_up_naming_the_entry(route: Route, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as raised:
        RouteTable([Route("GET", "/", ANONYMOUS), route])
    assert "route 1" in str(raised.value)


def test_duplicate_entries_fail_at_start_up() -> None:
    with pytest.raises(ConfigurationError, match="listed twice"):
        RouteTable([Route("GET", "/x", MFA), Route("GET,POST", "/x", ANONYMOUS)])


GOOD_TOML = """
default = "authenticated"

[policies.mfa-60s]
acr_values = ["urn:example:acr:mfa"]
max_age = 60
scopes = ["cats:read"]

[[routes]]
match = "GET /"
policy = "anonymous"

[[routes]]
match = "GET /cats/"
policy = "mfa-60s"

[[routes]]
match = "GET,POST /users/{id}/"
policy = "admin"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policies.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_toml_file_builds_named_policies(tmp_path: Path) -> None:
    table = RouteTable.from_toml(write(tmp_path, GOOD_TOML), policies={"admin": ADMIN})
    policy = table.policy_for("GET", "/cats/")
    assert (policy.name, policy.max_age, policy.acr_values, policy.scopes) == (
        "mfa-60s",
        60,
        ("urn:example:acr:mfa",),
        frozenset({"cats:read"}),
    )


def test_toml_routes_may_name_python_policies(tmp_path: Path) -> None:
    table = RouteTable.from_toml(write(tmp_path, GOOD_TOML), policies={"admin": ADMIN})
    assert table.policy_for("POST", "/users/7/") is ADMIN


def test_toml_builtin_policies(tmp_path: Path) -> None:
    table = RouteTable.from_toml(write(tmp_path, GOOD_TOML), policies={"admin": ADMIN})
    assert table.policy_for("GET", "/") is ANONYMOUS


def test_toml_default_policy(tmp_path: Path) -> None:
    text = (
        'default = "anonymous"\nallow_anonymous_default = true\n'
        '[[routes]]\nmatch = "GET /x"\npolicy = "authenticated"\n'
    )
    assert RouteTable.from_toml(write(tmp_path, text)).default is ANONYMOUS


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[[routes]]\nmatch = 'GET /cats/'\npolicy = 'mfa-6s'\n", ["routes[0]", "mfa-6s"]),
        ("[[routes]]\nmatch = '/cats/'\npolicy = 'anonymous'\n", ["routes[0]", "GET /cats/"]),
        ("[policies.bad]\nmax_age = -1\n", ["[policies.bad]", "max_age"]),
        ("[policies.bad]\nmax_age = '60s'\n", ["[policies.bad]", "max_age"]),
        ("[policies.bad]\nmaxage = 60\n", ["[policies.bad]", "maxage"]),
        ("[policies.bad]\nscopes = ['a\"b']\n", ["[policies.bad]", "scopes"]),
        ("[policies.anonymous]\nmax_age = 5\n", ["[policies.anonymous]", "already defined"]),
        ("[[routes]]\nmatch = 'GET /x'\npolicy = 'anonymous'\nextra = 1\n", ["routes[0]"]),
        ("[[routes]]\nmatch = 'GET x'\npolicy = 'anonymous'\n", ["routes[0]", "'/'"]),
        ("default = 'nope'\n", ["default", "nope"]),
        ("rotues = []\n", ["rotues"]),
        ("[[routes]\n", ["invalid TOML"]),
    ],
)
def test_bad_toml_fails_at_start_up_naming_the_entry(
    tmp_path: Path, text: str, names: list[str]
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        RouteTable.from_toml(write(tmp_path, text))
    message = str(raised.value)
    assert "policies.toml" in message
    for name in names:
        assert name in message


def test_missing_toml_file_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        RouteTable.from_toml(tmp_path / "absent.toml")


def test_the_documented_toml_example_loads() -> None:
    """docs/policies.md's example file is loaded as written, so the documentation cannot rot."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "policies.md"
    (example,) = re.findall(r"```toml\n(.*?)```", docs.read_text(encoding="utf-8"), re.DOTALL)
    table = RouteTable.from_dict(tomllib.loads(example))
    assert (table.policy_for("GET", "/cats/").name, table.policy_for("PUT", "/cats/").name) == (
        "mfa-60s",
        "cats-write",
    )


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("/users/{id}/", "/users/<id>/"),
        ("/users/{id:str}/", "/users/<string:name>/"),
        ("/users/{id:int}/", "/users/<int:user_id>/"),
        ("/files/{rest:path}", "/files/<path:rest>"),
    ],
)
def test_bind_5_both_template_syntaxes_spell_one_key(one: str, other: str) -> None:
    assert template_key(one) == template_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [("/users/{id}/", "/users/{id:int}/"), ("/files/{rest}", "/files/{rest:path}")],
)
def test_bind_5_convertors_tell_templates_apart(one: str, other: str) -> None:
    assert template_key(one) != template_key(other)


def test_bind_5_binding_refuses_an_entry_no_route_has() -> None:
    with pytest.raises(ConfigurationError, match=r"route 0 \(GET /catz/\): no route"):
        RouteTable([Route("GET", "/catz/", MFA)]).bind({"/cats/": frozenset({"GET"})})


def test_bind_5_binding_refuses_a_method_the_route_does_not_answer() -> None:
    with pytest.raises(ConfigurationError, match="does not answer DELETE"):
        RouteTable([Route("DELETE", "/cats/", MFA)]).bind({"/cats/": frozenset({"GET"})})


def test_bind_1_a_bound_table_gives_the_dispatched_route_its_entry() -> None:
    binding = TABLE.bind(
        {template_key(r.path): None for r in TABLE.routes} | {"/users/{:int}/": None}
    )
    assert (binding.policy("GET", "/cats/"), binding.policy("GET", None)) == (MFA, AUTHENTICATED)


def test_raw_tables_refuse_convertors_they_cannot_match() -> None:
    with pytest.raises(ConfigurationError, match="route-aware"):
        RouteTable([Route("GET", "/a/<string(length=2):code>", MFA)]).check_raw()
