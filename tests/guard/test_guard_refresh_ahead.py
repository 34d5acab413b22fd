"""The Guard refreshes the issuer's keys in the background before they expire (issue: JWKS cache,
"refresh ahead of expiry so no request waits on the network in steady state")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stepup_mfa import AUTHENTICATED, Guard, JWTVerifier, RequestView
from stepup_mfa._verify.transports import AsyncHttpxTransport, HttpxTransport
from stepup_mfa.testing import FakeIssuer, FrozenClock
from stepup_mfa.testing.issuer import JWKS_PATH
from stepup_mfa.testing.server import wait_until

AUDIENCE = "https://api.example.com"
JWKS_DEFAULT_AGE = 600  # the verifier's default when the server sends no Cache-Control


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_800_000_000)


@pytest.fixture
def issuer(clock: FrozenClock) -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE, clock=clock) as issuer:
        yield issuer


@pytest.fixture
def transport() -> Iterator[HttpxTransport]:
    transport = HttpxTransport()
    yield transport
    transport.close()


def request_with(token: str) -> RequestView:
    return RequestView("GET", "/dogs/", ("Bearer " + token,))


def make_guard(
    issuer: FakeIssuer, clock: FrozenClock, transport: object, **options: object
) -> Guard:
    verifier = JWTVerifier(issuer.issuer, AUDIENCE, allow_insecure_http=True)
    return Guard(verifier, clock=clock, transport=transport, **options)  # type: ignore[arg-type]


def test_keys_are_refreshed_in_the_background_before_they_expire(
    issuer: FakeIssuer, clock: FrozenClock, transport: HttpxTransport
) -> None:
    guard = make_guard(issuer, clock, transport)
    token = issuer.tokens.mfa_token()
    assert guard.check(request_with(token), AUTHENTICATED).allowed
    assert issuer.count(JWKS_PATH) == 1

    clock.advance(JWKS_DEFAULT_AGE - 20)  # inside the 30 s window before the keys expire
    assert guard.check(request_with(issuer.tokens.mfa_token()), AUTHENTICATED).allowed
    assert wait_until(lambda: issuer.count(JWKS_PATH) == 2)


def test_no_background_refresh_outside_the_window(
    issuer: FakeIssuer, clock: FrozenClock, transport: HttpxTransport
) -> None:
    guard = make_guard(issuer, clock, transport)
    token = issuer.tokens.mfa_token()
    assert guard.check(request_with(token), AUTHENTICATED).allowed
    clock.advance(JWKS_DEFAULT_AGE - 120)
    for _ in range(5):
        assert guard.check(request_with(issuer.tokens.mfa_token()), AUTHENTICATED).allowed
    assert issuer.count(JWKS_PATH) == 1


def test_refresh_ahead_can_be_turned_off(
    issuer: FakeIssuer, clock: FrozenClock, transport: HttpxTransport
) -> None:
    guard = make_guard(issuer, clock, transport, refresh_ahead=None)
    assert guard.check(request_with(issuer.tokens.mfa_token()), AUTHENTICATED).allowed
    clock.advance(JWKS_DEFAULT_AGE - 20)
    assert guard.check(request_with(issuer.tokens.mfa_token()), AUTHENTICATED).allowed
    assert issuer.count(JWKS_PATH) == 1


def test_a_failed_background_refresh_keeps_serving_with_the_current_keys(
    issuer: FakeIssuer, clock: FrozenClock, transport: HttpxTransport
) -> None:
    """Fail safe in both directions: the refresh fails quietly, the cached keys keep working."""
    guard = make_guard(issuer, clock, transport)
    token = issuer.tokens.mfa_token()
    assert guard.check(request_with(token), AUTHENTICATED).allowed
    issuer.server.fault = "500"
    clock.advance(JWKS_DEFAULT_AGE - 20)
    assert guard.check(request_with(issuer.tokens.mfa_token()), AUTHENTICATED).allowed
    assert wait_until(lambda: issuer.count(JWKS_PATH) == 2)
    fresh = issuer.tokens.mfa_token()
    assert guard.check(request_with(fresh), AUTHENTICATED).allowed


@pytest.mark.anyio
async def test_async_requests_refresh_in_a_background_task(
    issuer: FakeIssuer, clock: FrozenClock
) -> None:
    async_transport = AsyncHttpxTransport()
    try:
        verifier = JWTVerifier(issuer.issuer, AUDIENCE, allow_insecure_http=True)
        guard = Guard(verifier, clock=clock, async_transport=async_transport)
        token = issuer.tokens.mfa_token()
        assert (await guard.acheck(request_with(token), AUTHENTICATED)).allowed
        clock.advance(JWKS_DEFAULT_AGE - 20)
        assert (await guard.acheck(request_with(issuer.tokens.mfa_token()), AUTHENTICATED)).allowed
        for task in list(guard._background):
            await task
        assert issuer.count(JWKS_PATH) == 2
    finally:
        await async_transport.aclose()
