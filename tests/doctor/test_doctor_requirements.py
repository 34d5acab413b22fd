"""The requirement-by-requirement assessment the decision is built from, and the acr check.

``assess`` is the one home of each requirement (scopes, acr, amr, max_age): the decision
(``evaluate``) builds its refusal from it and ``stepup-mfa doctor`` prints it, so the properties
below pin that the two can never disagree (DOCTOR-2). ``acr_problems`` is R9470-14.
"""

from __future__ import annotations

import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepup_mfa._core.decision import evaluate, is_fresh
from stepup_mfa._core.errors import (
    InsufficientScope,
    InsufficientUserAuthentication,
    PolicyWarning,
)
from stepup_mfa._core.policy import Policy
from stepup_mfa._core.principal import Principal
from stepup_mfa._core.requirements import (
    acr_problems,
    assess,
    issuers_acr_problems,
    seconds_left,
    supported_acr_values,
)

NOW = 1_800_000_000.0
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCOPES = ["a", "b", "c"]
ACRS = ["urn:acr:pwd", "urn:acr:mfa", "urn:acr:hwk"]
AMRS = ["pwd", "otp", "hwk"]


@st.composite
def principals(draw: st.DrawFn) -> Principal:
    auth_time = draw(st.one_of(st.none(), st.floats(NOW - 200, NOW + 30)))
    return Principal(
        subject="user",
        scopes=frozenset(draw(st.lists(st.sampled_from(SCOPES), max_size=3))),
        acr=draw(st.one_of(st.none(), st.sampled_from(ACRS))),
        amr=tuple(draw(st.lists(st.sampled_from(AMRS), max_size=3, unique=True))),
        auth_time=auth_time,
    )


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicyWarning)
        return Policy(
            scopes=draw(st.lists(st.sampled_from(SCOPES), max_size=2)),
            acr_values=draw(st.lists(st.sampled_from(ACRS), max_size=2, unique=True)),
            amr_groups=draw(
                st.lists(st.lists(st.sampled_from(AMRS), min_size=1, max_size=2), max_size=2)
            ),
            max_age=draw(st.one_of(st.none(), st.integers(0, 120))),
        )


@PROPERTY
@given(principals(), policies(), st.floats(NOW - 10, NOW + 200))
def test_DOCTOR_2_assessment_met_iff_the_decision_allows(
    principal: Principal, policy: Policy, now: float
) -> None:
    """DOCTOR-2: every requirement met by ``assess`` exactly when ``evaluate`` allows."""
    assessment = assess(principal, policy, now)
    decision = evaluate(principal, policy, now)
    assert decision.allowed is assessment.met
    if not decision.allowed:
        expected = InsufficientUserAuthentication if assessment.needs_step_up else InsufficientScope
        assert type(decision.error) is expected


@PROPERTY
@given(st.one_of(st.none(), st.floats(NOW - 500, NOW + 60)), st.integers(0, 300))
def test_DOCTOR_2_countdown_agrees_with_is_fresh(auth_time: float | None, max_age: int) -> None:
    """DOCTOR-2: the doctor's ``max_age`` countdown is non-negative exactly while fresh."""
    left = seconds_left(auth_time, max_age, NOW)
    assert (left is not None and left >= 0) is is_fresh(auth_time, max_age, NOW)


def test_DOCTOR_2_assessment_names_each_unmet_requirement() -> None:
    policy = Policy(scopes="a b", acr_values=ACRS[1], amr="otp", max_age=60, name="p")
    principal = Principal("u", scopes=frozenset({"a"}), acr=ACRS[0], amr=("pwd",), auth_time=NOW)
    assessment = assess(principal, policy, NOW + 61)
    assert assessment.missing_scopes == frozenset({"b"})
    assert not assessment.acr_met
    assert assessment.unmet_amr_groups == (frozenset({"otp"}),)
    assert assessment.auth_age == 61
    assert not assessment.fresh


SUPPORTED = ("urn:acr:pwd", "urn:acr:mfa")


@pytest.mark.parametrize(
    ("acr_values", "found"),
    [
        pytest.param(("urn:acr:mfa",), [], id="listed"),
        pytest.param(("urn:acr:mfaa",), ["urn:acr:mfaa"], id="typo"),
        pytest.param(("urn:acr:hwk", "urn:acr:mfa"), ["urn:acr:hwk"], id="one-of-two"),
        pytest.param((), [], id="no-acr"),
    ],
)
def test_R9470_14_acr_problems_name_policy_and_issuer_values(
    acr_values: tuple[str, ...], found: list[str]
) -> None:
    """R9470-14: a policy's acr_values the issuer does not list, with the issuer's values."""
    problems = acr_problems([Policy(acr_values=acr_values, name="payouts")], SUPPORTED)
    assert len(problems) == (1 if found else 0)
    for problem in problems:
        assert "'payouts'" in problem
        assert all(value in problem for value in found)
        assert "urn:acr:pwd urn:acr:mfa" in problem  # what the issuer lists


def test_R9470_14_a_partly_listed_policy_says_the_rest_can_be_met() -> None:
    (problem,) = acr_problems([Policy(acr_values="urn:acr:hwk urn:acr:mfa", name="p")], SUPPORTED)
    assert "other acr_values can still be met" in problem
    (problem,) = acr_problems([Policy(acr_values="urn:acr:hwk", name="p")], SUPPORTED)
    assert "no client can ever satisfy it" in problem


def test_R9470_14_no_acr_values_supported_says_nothing() -> None:
    assert acr_problems([Policy(acr_values="urn:acr:typo", name="p")], None) == ()


def test_R9470_14_each_policy_is_named_once() -> None:
    policy = Policy(acr_values="urn:acr:typo", name="p")
    assert len(acr_problems([policy, policy, Policy(acr_values="urn:acr:typo")], SUPPORTED)) == 2


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("urn:acr:mfa", None, id="not-a-list"),
        pytest.param(["urn:acr:mfa", 3], ("urn:acr:mfa",), id="non-strings-dropped"),
        pytest.param([], (), id="empty"),
    ],
)
def test_R9470_14_acr_values_supported_read_from_metadata(
    member: object, expected: tuple[str, ...] | None
) -> None:
    assert supported_acr_values(member) == expected


def test_R9470_14_several_issuers_are_named() -> None:
    policy = Policy(acr_values="urn:acr:mfa", name="p")
    found = [
        ("https://a.example", {"acr_values_supported": ["urn:acr:mfa"]}),
        ("https://b.example", {"acr_values_supported": ["urn:acr:pwd"]}),
        ("https://c.example", None),
    ]
    (problem,) = issuers_acr_problems([policy], found)
    assert "issuer https://b.example" in problem
