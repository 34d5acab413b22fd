"""The Guard's verdict memo for tokens seen before never outlives any of its deadlines.

A per-(token, policy) Allowed decision is reused only while every condition it rests on still
holds: ``exp`` (+ leeway), the key set it was checked against (a rotation that drops the key, or
any refresh, ends it), ``auth_time + max_age``, a clock that has not gone back, and no rules.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stepup_mfa import Guard, JWTVerifier, Policy, RequestView
from stepup_mfa._core.policy import Rule
from stepup_mfa.testing import MFA_ACR, FakeIssuer, FrozenClock

AUDIENCE = "https://api.example.com"
MFA_60 = Policy(acr_values=MFA_ACR, max_age=60)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_800_000_000)


@pytest.fixture
def issuer(clock: FrozenClock) -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE, clock=clock) as issuer:
        yield issuer


@pytest.fixture
def guards() -> Iterator[list[Guard]]:
    made: list[Guard] = []
    yield made
    for guard in made:
        guard.close()


def guard_for(issuer: FakeIssuer, clock: FrozenClock, guards: list[Guard]) -> Guard:
    verifier = JWTVerifier(issuer.issuer, AUDIENCE, allow_insecure_http=True)
    guard = Guard(verifier, clock=clock, refresh_ahead=None)
    guards.append(guard)
    return guard


def view(token: str) -> RequestView:
    return RequestView("GET", "/cats/", ("Bearer " + token,))


def test_a_remembered_verdict_ends_with_the_freshness_window(
    issuer: FakeIssuer, clock: FrozenClock, guards: list[Guard]
) -> None:
    guard = guard_for(issuer, clock, guards)
    token = issuer.tokens.mfa_token()
    for _ in range(3):  # verify, then a cached hit (the verdict is kept), then the verdict
        assert guard.check(view(token), MFA_60).allowed
    assert guard._verdicts
    clock.advance(60)
    assert guard.check(view(token), MFA_60).allowed  # exactly max_age old: still fresh (OIDC-3)
    clock.advance(0.5)
    decision = guard.check(view(token), MFA_60)
    assert not decision.allowed and decision.error.code == "insufficient_user_authentication"


def test_a_remembered_verdict_ends_at_exp(
    issuer: FakeIssuer, clock: FrozenClock, guards: list[Guard]
) -> None:
    guard = guard_for(issuer, clock, guards)
    token = issuer.tokens.mfa_token(expires_in=30)
    policy = Policy()
    for _ in range(3):
        assert guard.check(view(token), policy).allowed
    clock.advance(30 + 60)  # exp + the verifier's default leeway
    decision = guard.check(view(token), policy)
    assert not decision.allowed and decision.error.code == "invalid_token"


def test_a_rotation_that_drops_the_key_ends_the_verdict(
    issuer: FakeIssuer, clock: FrozenClock, guards: list[Guard]
) -> None:
    guard = guard_for(issuer, clock, guards)
    token = issuer.tokens.mfa_token()
    policy = Policy()
    for _ in range(3):
        assert guard.check(view(token), policy).allowed
    issuer.rotate_keys(keep_previous=False)
    newer = issuer.tokens.mfa_token()  # an unknown kid: the verifier fetches the new key set
    assert guard.check(view(newer), policy).allowed
    decision = guard.check(view(token), policy)
    assert not decision.allowed and decision.error.code == "invalid_token"


def test_a_clock_gone_back_does_not_use_the_verdict(
    issuer: FakeIssuer, clock: FrozenClock, guards: list[Guard]
) -> None:
    guard = guard_for(issuer, clock, guards)
    token = issuer.tokens.mfa_token()
    for _ in range(3):
        assert guard.check(view(token), MFA_60).allowed
    verdict = next(iter(guard._verdicts.values()))  # type: ignore[union-attr]
    clock.set(verdict[1] - 1)
    guard.check(view(token), MFA_60)  # judged again, not answered from the memo
    assert next(iter(guard._verdicts.values()))[1] <= clock()  # type: ignore[union-attr]


def test_policies_with_rules_and_refusals_are_never_remembered(
    issuer: FakeIssuer, clock: FrozenClock, guards: list[Guard]
) -> None:
    guard = guard_for(issuer, clock, guards)
    token = issuer.tokens.password_token()
    calls: list[int] = []

    def counted(principal: object) -> bool:
        calls.append(1)
        return True

    ruled = Policy(rules=[Rule("counted", counted)])
    for _ in range(3):
        assert guard.check(view(token), ruled).allowed
        assert not guard.check(view(token), MFA_60).allowed
    assert len(calls) == 3
    assert not guard._verdicts
