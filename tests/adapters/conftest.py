"""Fixtures for the adapter tests: a real fake issuer on 127.0.0.1, real signed tokens, a Guard
with a frozen clock, and transports that leave no connection open between tests.

One issuer serves the whole session (starting and stopping a server per test would dominate the
run time); each test gets a fresh verifier, so no cached token or key set leaks between tests,
and the issuer's fault switch is reset after every test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from adapter_apps import REALM, MakeGuard

from stepup_mfa import Guard, JWTVerifier
from stepup_mfa._verify.flow import HttpRequest, HttpResponse
from stepup_mfa._verify.transports import AsyncHttpxTransport, HttpxTransport
from stepup_mfa.testing import FakeIssuer, FrozenClock, TokenFactory

NOW = 1_800_000_000
AUDIENCE = "https://api.example.com"


class OneShotAsyncTransport:
    """An async transport that opens and closes its client per request.

    Test clients (Starlette's, Flask's async views) run each request on a new event loop, and an
    httpx async client must not outlive its loop; a client per request keeps that honest.
    """

    async def send(self, request: HttpRequest) -> HttpResponse:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            return await AsyncHttpxTransport(client).send(request)


@pytest.fixture(scope="session")
def session_clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture(scope="session")
def session_issuer(session_clock: FrozenClock) -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE, clock=session_clock) as issuer:
        yield issuer


@pytest.fixture
def clock(session_clock: FrozenClock) -> FrozenClock:
    """The Guard's and the token factory's clock, back at ``NOW`` for every test."""
    session_clock.set(NOW)
    return session_clock


@pytest.fixture
def issuer(session_issuer: FakeIssuer, clock: FrozenClock) -> Iterator[FakeIssuer]:
    """The running fake issuer; its fault switch and request log are reset after the test."""
    yield session_issuer
    session_issuer.server.reset()


@pytest.fixture
def tokens(issuer: FakeIssuer) -> TokenFactory:
    return issuer.tokens


@pytest.fixture
def transport() -> Iterator[HttpxTransport]:
    sync = HttpxTransport()
    yield sync
    sync.close()


@pytest.fixture
def make_guard(issuer: FakeIssuer, clock: FrozenClock, transport: HttpxTransport) -> MakeGuard:
    """Builds Guards on a fresh real JWT verifier; keyword arguments go to ``Guard``."""

    def make(**options: Any) -> Guard:
        verifier = JWTVerifier(issuer.issuer, AUDIENCE, allow_insecure_http=True)
        options.setdefault("realm", REALM)
        return Guard(
            verifier,
            clock=clock,
            transport=transport,
            async_transport=OneShotAsyncTransport(),
            **options,
        )

    return make


@pytest.fixture
def guard(make_guard: MakeGuard) -> Guard:
    return make_guard()
