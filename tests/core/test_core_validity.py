"""The one validity rule (``_core/validity.py``): time, audience, freshness, seconds options.

Pure functions, so the table is the test: every verifier (fresh JWT, cached JWT, introspection
live or cached) calls these, and the verify tests check that they do.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepup_mfa._core.decision import is_fresh
from stepup_mfa._core.errors import ConfigurationError, InvalidToken
from stepup_mfa._core.principal import Principal
from stepup_mfa._core.validity import (
    EXPIRED,
    FUTURE_AUTH_TIME,
    ISSUED_IN_FUTURE,
    MALFORMED,
    MAX_NUMERIC_DATE,
    NOT_YET_VALID,
    audience_accepted,
    check_times,
    leeway_option,
    seconds_option,
    settle_auth_time,
)

NOW = 1_900_000_000
LEEWAY = 60.0


def principal(**dates: float) -> Principal:
    return Principal(subject="u", **dates)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dates", "stretch_exp", "refusal"),
    [
        pytest.param({"expires_at": NOW - 30}, True, None, id="R9068-7-exp-within-leeway"),
        pytest.param({"expires_at": NOW - 60}, True, EXPIRED, id="R9068-7-exp-at-leeway"),
        pytest.param({"expires_at": NOW - 61}, True, EXPIRED, id="T1-exp-beyond-leeway"),
        pytest.param({"expires_at": NOW - 10}, False, EXPIRED, id="R7662-7-exp-not-stretched"),
        pytest.param({"expires_at": NOW}, False, EXPIRED, id="R7662-9-at-exp"),
        pytest.param({"expires_at": NOW + 1}, False, None, id="R7662-9-before-exp"),
        pytest.param({"expires_at": MAX_NUMERIC_DATE + 1}, True, MALFORMED, id="T2-year-10000"),
        pytest.param({"not_before": NOW + 60}, True, None, id="R7519-2-nbf-within-leeway"),
        pytest.param({"not_before": NOW + 61}, True, NOT_YET_VALID, id="T3-nbf-future"),
        pytest.param({"issued_at": NOW + 60}, True, None, id="T4-iat-within-leeway"),
        pytest.param({"issued_at": NOW + 61}, True, ISSUED_IN_FUTURE, id="T4-iat-future"),
        pytest.param({"auth_time": NOW + 60}, True, None, id="OIDC-4-auth_time-within-leeway"),
        pytest.param({"auth_time": NOW + 61}, True, FUTURE_AUTH_TIME, id="S5-auth_time-future"),
        pytest.param({"auth_time": NOW + 61}, False, FUTURE_AUTH_TIME, id="S5-introspection"),
        pytest.param({"auth_time": -MAX_NUMERIC_DATE - 1}, True, MALFORMED, id="T2-year-minus"),
        pytest.param({"not_before": -1e300}, True, MALFORMED, id="T2-nbf-overflow"),
    ],
)
def test_R7519_2_check_times_is_one_table_for_every_verifier(
    dates: dict[str, float], stretch_exp: bool, refusal: str | None
) -> None:
    if refusal is None:
        check_times(principal(**dates), NOW, LEEWAY, stretch_exp=stretch_exp)
        return
    with pytest.raises(InvalidToken) as caught:
        check_times(principal(**dates), NOW, LEEWAY, stretch_exp=stretch_exp)
    assert caught.value.description == refusal


def test_OIDC_4_future_auth_time_counts_as_now_in_is_fresh() -> None:
    """``now - min(auth_time, now) <= max_age``: a future auth_time is "0 s ago", never less."""
    assert is_fresh(NOW + 30, 60, NOW)
    assert is_fresh(NOW + 30, 0, NOW)
    assert is_fresh(NOW - 60, 60, NOW)
    assert not is_fresh(NOW - 61, 60, NOW)


def test_OIDC_4_settle_auth_time_moves_a_future_auth_time_back_to_verification() -> None:
    ahead = principal(auth_time=NOW + 59)
    settled = settle_auth_time(ahead, NOW)
    assert settled.auth_time == NOW
    # The 60 s window closes 60 s after we verified, not 119 s.
    assert is_fresh(settled.auth_time, 60, NOW + 60)
    assert not is_fresh(settled.auth_time, 60, NOW + 61)
    past = principal(auth_time=NOW - 5)
    assert settle_auth_time(past, NOW) is past
    assert settle_auth_time(principal(), NOW).auth_time is None


@given(
    skew=st.floats(min_value=0, max_value=300),
    max_age=st.integers(min_value=0, max_value=3600),
    later=st.integers(min_value=0, max_value=10_000),
)
def test_OIDC_4_leeway_never_stretches_max_age(skew: float, max_age: int, later: int) -> None:
    """Whatever the skew, the window never stays open longer than ``max_age`` after verification."""
    settled = settle_auth_time(principal(auth_time=NOW + skew), NOW)
    if later > max_age:
        assert not is_fresh(settled.auth_time, max_age, NOW + later)


@pytest.mark.parametrize(
    ("audience", "required", "accepted"),
    [
        pytest.param(("https://api.example.com",), True, True, id="T7-exact"),
        pytest.param(("https://x", "https://api.example.com"), True, True, id="T7-in-list"),
        pytest.param(("https://api.example.com/",), True, False, id="T7-trailing-slash"),
        pytest.param(("*",), True, False, id="T7-star"),
        pytest.param((), True, False, id="R9068-5-missing"),
        pytest.param((), False, True, id="R7662-7-missing-in-introspection"),
        pytest.param(("https://other",), False, False, id="R7662-7-other"),
    ],
)
def test_R9068_5_audience_is_one_exact_rule(
    audience: tuple[str, ...], required: bool, accepted: bool
) -> None:
    ours = frozenset({"https://api.example.com"})
    assert audience_accepted(audience, ours, required=required) is accepted


@pytest.mark.parametrize(
    ("value", "options"),
    [
        pytest.param(-1, {}, id="negative"),
        pytest.param(True, {}, id="bool"),
        pytest.param("60s", {}, id="string"),
        pytest.param(math.inf, {}, id="infinite"),
        pytest.param(math.nan, {}, id="nan"),
        pytest.param(1.5, {"whole": True}, id="S10-fraction"),
        pytest.param(0, {"positive": True}, id="zero-not-positive"),
        pytest.param(301, {"upper": 300.0}, id="above-upper"),
        pytest.param(10**400, {"whole": True}, id="int-overflow"),
    ],
)
def test_R9470_4_S10_seconds_options_are_checked_in_one_place(
    value: object, options: dict[str, object]
) -> None:
    with pytest.raises(ConfigurationError):
        seconds_option("x", value, **options)  # type: ignore[arg-type]


def test_R9068_7_leeway_is_at_most_a_few_minutes() -> None:
    assert leeway_option(300) == 300.0
    assert leeway_option(0) == 0.0
    with pytest.raises(ConfigurationError):
        leeway_option(3600)


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat", "auth_time"])
def test_R7519_5_a_null_numeric_date_is_malformed_in_a_jwt_not_in_an_answer(claim: str) -> None:
    """Found by the differential tests (joserfc refuses ``"nbf": null``); introspection answers,
    written by the authorization server itself, keep reading null as an absent member."""
    with pytest.raises(InvalidToken, match="Malformed"):
        Principal.from_claims({"sub": "u", claim: None}, "jwt")
    assert (
        getattr(
            Principal.from_claims({"sub": "u", claim: None}, "introspection"),
            {
                "exp": "expires_at",
                "nbf": "not_before",
                "iat": "issued_at",
                "auth_time": "auth_time",
            }[claim],
        )
        is None
    )
