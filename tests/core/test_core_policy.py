"""Policies: validation at start-up, warnings, composition and the acr ladder.

Checklist ids: R9470-4, R9470-14, R6750-12, R8176-1, R8176-3, R8176-4, OIDC-5, OIDC-7, S10.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from stepup_mfa._core.decision import evaluate
from stepup_mfa._core.errors import ConfigurationError, PolicyWarning
from stepup_mfa._core.policy import (
    ANONYMOUS,
    AUTHENTICATED,
    REGISTERED_AMR,
    SECOND_FACTOR_AMR,
    AcrLadder,
    Policy,
    Rule,
)
from stepup_mfa._core.principal import Principal

PWD = "urn:example:acr:pwd"
MFA = "urn:example:acr:mfa"
NOW = 1_800_000_000
HWK = "urn:example:acr:hwk"


def has_subject(principal: Principal) -> bool:
    return principal.subject is not None


# -- validation: an error at start-up, never at request time -----------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"max_age": -1}, id="R9470-4-S10-negative"),
        pytest.param({"max_age": 1.5}, id="R9470-4-S10-fraction"),
        pytest.param({"max_age": 60.0}, id="R9470-4-float"),
        pytest.param({"max_age": "60s"}, id="R9470-4-S10-string"),
        pytest.param({"max_age": "60"}, id="R9470-4-numeric-string"),
        pytest.param({"max_age": True}, id="R9470-4-bool"),
        pytest.param({"max_cache_age": -5}, id="R7662-10-max-cache-age"),
        pytest.param({"acr_values": ['urn:x:"mfa"']}, id="S10-acr-quote"),
        pytest.param({"acr_values": ["urn:x:a\\b"]}, id="S10-acr-backslash"),
        pytest.param({"acr_values": ["urn:x:a,urn:x:b"]}, id="S10-acr-comma"),
        pytest.param({"acr_values": ["urn:x:caf\u00e9"]}, id="S10-acr-non-ascii"),
        pytest.param({"acr_values": ["urn:x:a\r\nX: y"]}, id="S10-acr-crlf"),
        pytest.param({"acr_values": [""]}, id="S10-acr-empty"),
        pytest.param({"acr_values": f"{MFA}  {HWK}"}, id="S10-acr-double-space"),
        pytest.param({"scopes": ['cats "read"']}, id="R6750-12-quote"),
        pytest.param({"scopes": ["a\\b"]}, id="R6750-12-backslash"),
        pytest.param({"scopes": ["cats read"]}, id="R6750-12-space-in-item"),
        pytest.param({"scopes": ["caf\u00e9"]}, id="R6750-12-non-ascii"),
        pytest.param({"scopes": [""]}, id="R6750-12-empty"),
        pytest.param({"scopes": [7]}, id="R6750-12-not-a-string"),
        pytest.param({"amr": ['o"tp']}, id="amr-quote"),
        pytest.param({"authenticated": "yes"}, id="authenticated-not-bool"),
        pytest.param({"rules": [has_subject]}, id="rule-not-a-Rule"),
        pytest.param({"authenticated": False, "scopes": ["a"]}, id="anonymous-with-scope"),
        pytest.param({"authenticated": False, "max_age": 60}, id="anonymous-with-max-age"),
    ],
)
def test_invalid_policy_fails_at_construction(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Policy(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field", "expected"),
    [
        pytest.param(
            {"scopes": "cats:read dogs:read"}, "scopes", {"cats:read", "dogs:read"}, id="scope-str"
        ),
        pytest.param({"scopes": ""}, "scopes", frozenset(), id="scope-empty-str"),
        pytest.param({"acr_values": f"{HWK} {MFA}"}, "acr_values", (HWK, MFA), id="R9470-3-str"),
        pytest.param(
            {"acr_values": [HWK, MFA, HWK]}, "acr_values", (HWK, MFA), id="R9470-3-dedupe-order"
        ),
        pytest.param({"max_age": 60}, "max_age", 60, id="R9470-4-int"),
        pytest.param(
            {"amr": "otp hwk", "acr_values": MFA}, "amr_methods", {"otp", "hwk"}, id="amr-str"
        ),
    ],
)
def test_policy_normalises_its_inputs(kwargs: dict[str, Any], field: str, expected: Any) -> None:
    assert getattr(Policy(**kwargs), field) == expected


def test_r6750_12_printable_scope_characters_are_accepted() -> None:
    token = "!#$%&'()*+,-./:;<=>?@[]^_`{|}~"
    assert Policy(scopes=[token]).scopes == {token}


# -- warnings: works, but probably not what was meant ------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"amr": ["OTP"], "acr_values": [MFA]}, "not registered", id="R8176-1-OTP"),
        pytest.param({"amr": ["totp"], "acr_values": [MFA]}, "not registered", id="R8176-1-totp"),
        pytest.param({"amr": ["otp"], "max_age": 60}, "cannot be named", id="R8176-4-no-acr"),
        pytest.param({"acr_values": ["mfa"]}, "neither an absolute URI", id="OIDC-7-bare-name"),
        pytest.param({"max_age": 0}, "max_age=0", id="OIDC-5-zero"),
    ],
)
def test_policy_warning(kwargs: dict[str, Any], match: str) -> None:
    with pytest.warns(PolicyWarning, match=match):
        Policy(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"amr": ["otp"], "acr_values": [MFA], "max_age": 60}, id="R8176-4-with-acr"),
        pytest.param({"acr_values": ["1", "urn:mace:incommon:iap:silver"]}, id="OIDC-7-ok"),
        pytest.param({"amr": sorted(SECOND_FACTOR_AMR), "acr_values": [MFA]}, id="R8176-3"),
        pytest.param({"acr_values": [MFA]}, id="R9470-14-service-starts"),
    ],
)
def test_policy_without_warning(kwargs: dict[str, Any]) -> None:
    Policy(**kwargs)  # filterwarnings=error turns any PolicyWarning into a failure


def test_r8176_1_registered_values() -> None:
    registered = (
        "face fpt geo hwk iris kba mca mfa otp pin pwd rba retina sc sms swk tel user vbm wia"
    )
    assert frozenset(registered.split()) == REGISTERED_AMR


def test_r8176_3_second_factor_set_is_registered() -> None:
    assert SECOND_FACTOR_AMR <= REGISTERED_AMR


@pytest.mark.parametrize("method", ["pwd", "pin", "kba", "user", "geo", "wia", "rba"])
def test_r8176_3_single_factor_methods_are_not_second_factors(method: str) -> None:
    assert method not in SECOND_FACTOR_AMR


# -- values: immutable, hashable, composable ---------------------------------------------------


def test_policy_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        AUTHENTICATED.max_age = 5  # type: ignore[misc]


def test_equal_policies_hash_alike_and_name_is_ignored() -> None:
    a = Policy(scopes=["cats:read"], acr_values=[MFA], max_age=60, name="a")
    b = Policy(scopes="cats:read", acr_values=MFA, max_age=60, name="b")
    assert (a == b, hash(a) == hash(b)) == (True, True)


def test_policy_with_rules_is_hashable() -> None:
    policy = Policy(rules=[Rule("subject", has_subject)])
    assert {policy: 1}[Policy(rules=[Rule("subject", has_subject)])] == 1


def test_anonymous_and_authenticated_constants() -> None:
    assert (ANONYMOUS.authenticated, ANONYMOUS.requires_anything, AUTHENTICATED.authenticated) == (
        False,
        False,
        True,
    )


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        pytest.param(
            {"scopes": ["a"]}, {"scopes": ["b"]}, {"scopes": ["a", "b"]}, id="scopes-union"
        ),
        pytest.param({"max_age": 600}, {"max_age": 60}, {"max_age": 60}, id="max-age-smaller"),
        pytest.param({"max_age": 60}, {}, {"max_age": 60}, id="max-age-one-side"),
        pytest.param(
            {"acr_values": [HWK, MFA, PWD]},
            {"acr_values": [PWD, MFA]},
            {"acr_values": [MFA, PWD]},
            id="R9470-3-acr-common-in-first-order",
        ),
        pytest.param({"acr_values": [MFA]}, {}, {"acr_values": [MFA]}, id="acr-one-side"),
        pytest.param(
            {"max_cache_age": 0}, {"max_cache_age": 30}, {"max_cache_age": 0}, id="cache-age"
        ),
    ],
)
def test_and_requires_both(
    left: dict[str, Any], right: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert Policy(**left) & Policy(**right) == Policy(**expected)


def test_and_with_anonymous_keeps_the_requirements() -> None:
    assert ANONYMOUS & Policy(scopes=["a"]) == Policy(scopes=["a"])


def test_anonymous_and_anonymous_stays_anonymous() -> None:
    assert (ANONYMOUS & ANONYMOUS).authenticated is False


def test_and_joins_rules_without_duplicates() -> None:
    rule = Rule("subject", has_subject)
    assert (Policy(rules=[rule]) & Policy(rules=[rule])).rules == (rule,)


def test_and_joins_names() -> None:
    assert (Policy(name="a") & Policy(name="b")).name == "a & b"


def test_and_with_no_common_acr_fails_at_start_up() -> None:
    with pytest.raises(ConfigurationError, match="no acr_values in common"):
        Policy(acr_values=[MFA]) & Policy(acr_values=[HWK])


def test_and_with_a_non_policy_is_not_implemented() -> None:
    with pytest.raises(TypeError):
        AUTHENTICATED & 1  # type: ignore[operator]


@pytest.mark.parametrize(
    ("amr", "allowed"),
    [
        (["otp", "hwk"], True),
        (["otp"], False),
        (["hwk"], False),
        (["pwd"], False),
    ],
)
def test_and_amr_requires_one_method_from_each_side(amr: list[str], allowed: bool) -> None:
    """R8176-2: ``{otp} & {hwk}`` means one method of each group, not their intersection."""
    combined = Policy(amr=["otp"], acr_values=[MFA]) & Policy(amr=["hwk"], acr_values=[MFA])
    principal = Principal.from_claims({"sub": "u", "acr": MFA, "amr": amr})
    assert evaluate(principal, combined, NOW).allowed is allowed


def test_and_amr_keeps_only_the_stricter_of_nested_groups() -> None:
    """Meeting ``{otp}`` meets ``{otp, hwk}``, so the combination keeps ``{otp}`` alone."""
    combined = Policy(amr=["otp"], acr_values=[MFA]) & Policy(amr=["otp", "hwk"], acr_values=[MFA])
    assert combined.amr_groups == (frozenset({"otp"}),)


# -- the acr ladder ----------------------------------------------------------------------------


LADDER_LEVELS = ("urn:x:acr:1", "urn:x:acr:2", "urn:x:acr:3")


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        pytest.param("urn:x:acr:1", LADDER_LEVELS, id="R9470-3-lowest"),
        pytest.param("urn:x:acr:2", LADDER_LEVELS[1:], id="R9470-3-middle"),
        pytest.param("urn:x:acr:3", LADDER_LEVELS[2:], id="R9470-3-highest"),
    ],
)
def test_acr_ladder_at_least(level: str, expected: tuple[str, ...]) -> None:
    assert AcrLadder(LADDER_LEVELS).at_least(level) == expected


@pytest.mark.parametrize(
    "levels",
    [
        pytest.param((), id="empty"),
        pytest.param(("urn:x:1", "urn:x:1"), id="duplicate"),
        pytest.param(('urn:x:"1"',), id="S10-quote"),
    ],
)
def test_acr_ladder_invalid(levels: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError):
        AcrLadder(levels)


def test_acr_ladder_unknown_level() -> None:
    with pytest.raises(ConfigurationError, match="not on the acr ladder"):
        AcrLadder(LADDER_LEVELS).at_least("urn:x:acr:9")
