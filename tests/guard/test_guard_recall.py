"""``Guard.recall``: the adapters' hot path for a token seen before (issue 13, PERF-1).

It answers with the remembered Allowed verdict only for the exact ``Authorization`` line and
policy it was reached for, within every deadline the verdict carries, and only when nothing
else must see the request; every other case is ``None`` and the full path decides, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from stepup_mfa import Guard, JWTVerifier, Policy, RequestView
from stepup_mfa._guard import _KEY_TAIL
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
def made() -> Iterator[list[Guard]]:
    guards: list[Guard] = []
    yield guards
    for guard in guards:
        guard.close()


@pytest.fixture
def make(issuer: FakeIssuer, clock: FrozenClock, made: list[Guard]) -> Any:
    def build(**options: Any) -> Guard:
        options.setdefault("refresh_ahead", None)
        verifier = JWTVerifier(issuer.issuer, AUDIENCE, allow_insecure_http=True)
        guard = Guard(verifier, clock=clock, **options)
        made.append(guard)
        return guard

    return build


def seen(guard: Guard, line: str, policy: Policy, times: int = 2) -> None:
    """Verify, then a cached hit that remembers the verdict."""
    for _ in range(times):
        assert guard.check(RequestView("GET", "/cats/", (line,)), policy).allowed


def test_perf_1_a_token_seen_before_is_recalled(make: Any, issuer: FakeIssuer) -> None:
    guard = make()
    line = "Bearer " + issuer.tokens.mfa_token()
    assert guard.recall(line, MFA_60) is None  # never seen
    seen(guard, line, MFA_60)
    decision = guard.recall(line, MFA_60)
    assert decision is not None and decision.allowed
    assert decision.principal is not None and decision.principal.acr == MFA_ACR


def test_perf_1_another_policy_or_another_line_is_not_recalled(
    make: Any, issuer: FakeIssuer
) -> None:
    guard = make()
    token = issuer.tokens.mfa_token()
    seen(guard, "Bearer " + token, MFA_60)
    assert guard.recall("Bearer " + token, Policy(acr_values=MFA_ACR, max_age=60)) is None
    assert guard.recall("bearer " + token, MFA_60) is None
    assert guard.recall("Bearer  " + token, MFA_60) is None


def test_perf_1_a_line_ending_like_a_remembered_one_is_not_recalled(
    make: Any, issuer: FakeIssuer
) -> None:
    guard = make()
    line = "Bearer " + issuer.tokens.mfa_token()
    seen(guard, line, MFA_60)
    forged = "Bearer x" + line[-_KEY_TAIL:]  # the same tail: found, then compared whole
    assert guard.recall(forged, MFA_60) is None
    assert not guard.check(RequestView("GET", "/cats/", (forged,)), MFA_60).allowed


def test_perf_1_the_freshness_window_ends_the_recall(
    make: Any, issuer: FakeIssuer, clock: FrozenClock
) -> None:
    guard = make()
    line = "Bearer " + issuer.tokens.mfa_token()
    seen(guard, line, MFA_60)
    clock.advance(60)
    assert guard.recall(line, MFA_60) is not None  # exactly max_age old: still fresh (OIDC-3)
    clock.advance(0.5)
    assert guard.recall(line, MFA_60) is None
    decision = guard.check(RequestView("GET", "/cats/", (line,)), MFA_60)
    assert not decision.allowed and decision.error.code == "insufficient_user_authentication"


def test_perf_1_exp_ends_the_recall(make: Any, issuer: FakeIssuer, clock: FrozenClock) -> None:
    guard = make()
    line = "Bearer " + issuer.tokens.mfa_token(expires_in=30)
    seen(guard, line, Policy())
    clock.advance(30 + 60 - 0.5)  # exp + the default leeway, not yet
    assert guard.recall(line, Policy()) is None  # another Policy object: not this verdict
    policy = Policy()
    seen(guard, line, policy)
    assert guard.recall(line, policy) is not None
    clock.advance(0.5)
    assert guard.recall(line, policy) is None


def test_perf_1_a_key_rotation_ends_the_recall(make: Any, issuer: FakeIssuer) -> None:
    guard = make()
    line = "Bearer " + issuer.tokens.mfa_token()
    policy = Policy()
    seen(guard, line, policy)
    issuer.rotate_keys(keep_previous=False)
    seen(guard, "Bearer " + issuer.tokens.mfa_token(), policy, times=1)  # fetches the new set
    assert guard.recall(line, policy) is None
    assert not guard.check(RequestView("GET", "/cats/", (line,)), policy).allowed


def test_perf_1_a_clock_gone_back_is_not_recalled(
    make: Any, issuer: FakeIssuer, clock: FrozenClock
) -> None:
    guard = make()
    line = "Bearer " + issuer.tokens.mfa_token()
    seen(guard, line, MFA_60)
    clock.set(clock() - 1)
    assert guard.recall(line, MFA_60) is None


def test_perf_1_hooks_and_https_take_the_full_path(make: Any, issuer: FakeIssuer) -> None:
    line = "Bearer " + issuer.tokens.mfa_token()
    decisions: list[object] = []
    hooked = make(on_decision=lambda request, policy, decision: decisions.append(decision))
    seen(hooked, line, MFA_60)
    assert hooked.recall(line, MFA_60) is None  # the hook sees every decision, with its request
    assert len(decisions) == 2
    https = make(require_https=True)
    for _ in range(2):
        view = RequestView("GET", "/cats/", (line,), scheme="https")
        assert https.check(view, MFA_60).allowed
    assert https.recall(line, MFA_60) is None  # the scheme is judged on the full path
    late = make()
    seen(late, line, MFA_60)
    late.on_decision = lambda request, policy, decision: None  # set after construction
    assert late.recall(line, MFA_60) is None


def test_perf_1_a_due_key_refresh_check_takes_the_full_path(
    make: Any, issuer: FakeIssuer, clock: FrozenClock
) -> None:
    guard = make(refresh_ahead=30.0)
    line = "Bearer " + issuer.tokens.mfa_token()
    seen(guard, line, MFA_60)
    assert guard.recall(line, MFA_60) is not None
    clock.advance(1.0)  # the once-a-second refresh check is due: the full path makes it
    assert guard.recall(line, MFA_60) is None
    seen(guard, line, MFA_60, times=1)
    assert guard.recall(line, MFA_60) is not None


@pytest.mark.parametrize("refresh_ahead", [None, 30.0])
def test_perf_1_r8414_2_past_the_jwks_max_age_a_withdrawn_key_is_noticed(
    make: Any, issuer: FakeIssuer, clock: FrozenClock, refresh_ahead: float | None
) -> None:
    """Past the key set's max-age, neither a remembered verdict nor a cached token vouches for
    itself: the keys are fetched again, and a key withdrawn meanwhile refuses its tokens (the
    stale keys' grace is for an authorization server that cannot be reached)."""
    guard = make(refresh_ahead=refresh_ahead)
    line = "Bearer " + issuer.tokens.mfa_token(expires_in=7200)
    policy = Policy()
    seen(guard, line, policy)
    assert guard.recall(line, policy) is not None
    issuer.rotate_keys(keep_previous=False)
    clock.advance(601)  # past the default max-age (600 s): fetched again, the key is gone
    assert guard.recall(line, policy) is None
    decision = guard.check(RequestView("GET", "/cats/", (line,)), policy)
    assert not decision.allowed and decision.error.code == "invalid_token"


def test_perf_1_past_the_max_age_an_unreachable_jwks_still_serves_the_grace(
    make: Any, issuer: FakeIssuer, clock: FrozenClock
) -> None:
    """The other side of the rule: when the refresh fails, the last good keys keep serving
    tokens seen before (stale_keys_grace, R8414-2 fail-soft), with no verdict remembered."""
    guard = make()
    line = "Bearer " + issuer.tokens.mfa_token(expires_in=7200)
    policy = Policy()
    seen(guard, line, policy)
    clock.advance(601)
    issuer.server.fault = "500"
    for _ in range(3):
        assert guard.check(RequestView("GET", "/cats/", (line,)), policy).allowed
        assert guard.recall(line, policy) is None
