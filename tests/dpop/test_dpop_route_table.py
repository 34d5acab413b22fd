"""``require_bound_token`` in TOML route tables: loaded like the other policy keys, and refused
like them when misspelt or of the wrong type (BIND-5's start-up rule for the file format)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.dpop.dpop_kit import NOW, Client, StubVerifier, view

from stepup_mfa import ConfigurationError, DPoP, Guard
from stepup_mfa.routes import RouteTable

API = "https://api.example.com"
TABLE = """
[policies.bound]
scopes = ["cats:read"]
{line}

[[routes]]
match = "GET /cats/"
policy = "bound"
"""


def load(tmp_path: Path, line: str) -> RouteTable:
    path = tmp_path / "policies.toml"
    path.write_text(TABLE.format(line=line))
    return RouteTable.from_toml(path)


def test_R9449_1_require_bound_token_from_toml(tmp_path: Path) -> None:
    policy = load(tmp_path, "require_bound_token = true").policy_for("GET", "/cats/")
    assert policy.require_bound_token and policy.name == "bound"
    assert (
        not load(tmp_path, "require_bound_token = false")
        .policy_for("GET", "/cats/")
        .require_bound_token
    )


def test_R9449_1_a_toml_bound_route_refuses_bearer_and_admits_dpop(tmp_path: Path) -> None:
    policy = load(tmp_path, "require_bound_token = true").policy_for("GET", "/cats/")
    stub, client = StubVerifier(), Client()
    stub.add("plain")
    bound = stub.add("bound", cnf={"jkt": client.jkt})
    guard = Guard(stub, clock=lambda: NOW, dpop=DPoP(API))
    refused = guard.check(view("plain", scheme="Bearer"), policy)
    assert (refused.status, refused.error.code) == (401, "invalid_token")
    assert guard.check(view(bound, (client.proof(bound, iat=NOW),)), policy).allowed


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("require_bound_tokens = true", "require_bound_tokens"),
        ("require-bound-token = true", "require-bound-token"),
        ("requireBoundToken = true", "requireBoundToken"),
        ("bound = true", "bound"),
    ],
)
def test_a_misspelt_require_bound_token_fails_at_load(
    tmp_path: Path, line: str, named: str
) -> None:
    with pytest.raises(ConfigurationError, match=r"\[policies\.bound\].*unknown keys") as caught:
        load(tmp_path, line)
    assert named in str(caught.value)


@pytest.mark.parametrize("value", ['"yes"', '"true"', "1", "0", "[true]"])
def test_a_require_bound_token_that_is_not_a_boolean_fails_at_load(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(ConfigurationError, match=r"\[policies\.bound\].*require_bound_token"):
        load(tmp_path, f"require_bound_token = {value}")
