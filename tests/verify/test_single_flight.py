"""Single flight that no other request's failure can break (issue 11, FLIGHT-1..FLIGHT-5).

Real local servers that stall (``LocalHTTPServer.delay``) and real transports; the leader of a
shared JWKS or introspection exchange is cancelled, timed out with ``asyncio.wait_for``, or waited
on by threads and tasks at once. Before the fix a leader's ``CancelledError`` was re-raised in
every follower (escaping ``Guard.acheck`` / ``Guard.check``: a 500 or no response at all), a
follower's timeout cancelled the shared future (the leader then failed with
``InvalidStateError``), and the registry was one module global shared by every verifier.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from introspection_fixtures import NOW as INTROSPECTION_NOW
from introspection_fixtures import IntrospectionStub, active, verifier_for

from stepup_mfa._core.credentials import RequestView
from stepup_mfa._core.decision import Decision
from stepup_mfa._core.policy import AUTHENTICATED
from stepup_mfa._core.principal import Principal
from stepup_mfa._guard import Guard
from stepup_mfa._verify.flow import Flow, HttpRequest, SingleFlight, run_sync, shared
from stepup_mfa._verify.jwt_verifier import JWTVerifier
from stepup_mfa._verify.transports import AsyncHttpxTransport, HttpxTransport
from stepup_mfa.testing.clock import FrozenClock

NOW = 1_900_000_000
AUDIENCE = "https://api.example.com"
STALL = 0.6  # seconds the server takes to answer


def bearer(token: str) -> RequestView:
    return RequestView("GET", "/dogs/", ("Bearer " + token,))


@pytest.fixture
def sync_transport() -> Iterator[HttpxTransport]:
    transport = HttpxTransport()
    yield transport
    transport.close()


def jwt_guard(issuer_server: Any, sync_transport: HttpxTransport, **options: Any) -> Guard:
    verifier = JWTVerifier(
        issuer_server.issuer, AUDIENCE, jwks_uri=issuer_server.jwks_uri, **options
    )
    return Guard(verifier, clock=FrozenClock(NOW), transport=sync_transport, refresh_ahead=None)


async def _wait_for_arrivals(server: Any, path: str, count: int) -> None:
    deadline = time.monotonic() + 5
    while server.count(path) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


def _codes(outcomes: list[Decision | BaseException]) -> list[object]:
    return [
        o.status if isinstance(o, Decision) else type(o).__name__  # type: ignore[misc]
        for o in outcomes
    ]


def test_FLIGHT_1_K2_a_cancelled_leader_never_fails_its_followers(
    issuer_server: Any, sync_transport: HttpxTransport
) -> None:
    """The leader of the JWKS fetch times out (``asyncio.wait_for``); its five followers get the
    keys from a fresh attempt instead of its ``CancelledError``."""
    issuer_server.server.delay = STALL
    guard = jwt_guard(issuer_server, sync_transport)
    token = issuer_server.mint()

    async def scenario() -> tuple[BaseException | None, list[Decision | BaseException]]:
        transport = AsyncHttpxTransport()
        guard._async_transport = transport  # one client for every task of this loop
        try:
            leader = asyncio.ensure_future(
                asyncio.wait_for(guard.acheck(bearer(token), AUTHENTICATED), STALL / 3)
            )
            await _wait_for_arrivals(issuer_server.server, "/jwks.json", 1)
            followers = [
                asyncio.ensure_future(guard.acheck(bearer(token), AUTHENTICATED)) for _ in range(5)
            ]
            leader_error: BaseException | None = None
            try:
                await leader
            except BaseException as error:  # TimeoutError: its own
                leader_error = error
            outcomes = await asyncio.gather(*followers, return_exceptions=True)
            return leader_error, list(outcomes)
        finally:
            await transport.aclose()

    leader_error, outcomes = asyncio.run(scenario())
    assert isinstance(leader_error, TimeoutError)
    assert _codes(outcomes) == [200] * 5
    assert issuer_server.jwks_fetches == 2  # the abandoned one, then one fresh attempt


def test_FLIGHT_2_a_follower_timeout_never_touches_the_leaders_exchange(
    issuer_server: Any, sync_transport: HttpxTransport
) -> None:
    """Followers give up with ``asyncio.wait_for``; the leader still gets its answer (before:
    the follower's timeout cancelled the shared future, and the leader got a 503)."""
    issuer_server.server.delay = STALL
    guard = jwt_guard(issuer_server, sync_transport)
    token = issuer_server.mint()

    async def scenario() -> tuple[Decision, list[BaseException | Decision]]:
        transport = AsyncHttpxTransport()
        guard._async_transport = transport
        try:
            leader = asyncio.ensure_future(guard.acheck(bearer(token), AUTHENTICATED))
            await _wait_for_arrivals(issuer_server.server, "/jwks.json", 1)
            impatient = [
                asyncio.ensure_future(
                    asyncio.wait_for(guard.acheck(bearer(token), AUTHENTICATED), 0.05)
                )
                for _ in range(3)
            ]
            outcomes = await asyncio.gather(*impatient, return_exceptions=True)
            return await leader, list(outcomes)
        finally:
            await transport.aclose()

    leader, outcomes = asyncio.run(scenario())
    assert leader.allowed
    assert all(isinstance(o, TimeoutError) for o in outcomes)
    assert issuer_server.jwks_fetches == 1


def test_FLIGHT_3_this_requests_own_cancellation_still_propagates(
    issuer_server: Any, sync_transport: HttpxTransport
) -> None:
    """Cancelling a request (a client disconnect) cancels it; the Guard does not swallow that."""
    issuer_server.server.delay = STALL
    guard = jwt_guard(issuer_server, sync_transport)
    token = issuer_server.mint()

    async def scenario() -> None:
        transport = AsyncHttpxTransport()
        guard._async_transport = transport
        try:
            task = asyncio.ensure_future(guard.acheck(bearer(token), AUTHENTICATED))
            await _wait_for_arrivals(issuer_server.server, "/jwks.json", 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            await transport.aclose()

    asyncio.run(scenario())


def test_FLIGHT_1_threads_following_a_cancelled_asyncio_leader_are_answered(
    issuer_server: Any, sync_transport: HttpxTransport
) -> None:
    """Threads (``Guard.check``) join the exchange of an asyncio leader that is cancelled: each
    gets a decision (before: the leader's ``CancelledError`` escaped ``check`` in every thread)."""
    issuer_server.server.delay = STALL
    guard = jwt_guard(issuer_server, sync_transport)
    token = issuer_server.mint()
    results: list[Decision | BaseException] = []
    lock = threading.Lock()

    def follower() -> None:
        try:
            outcome: Decision | BaseException = guard.check(bearer(token), AUTHENTICATED)
        except BaseException as error:  # recorded, not lost in the thread
            outcome = error
        with lock:
            results.append(outcome)

    async def scenario() -> None:
        transport = AsyncHttpxTransport()
        guard._async_transport = transport
        try:
            leader = asyncio.ensure_future(guard.acheck(bearer(token), AUTHENTICATED))
            await _wait_for_arrivals(issuer_server.server, "/jwks.json", 1)
            threads = [threading.Thread(target=follower) for _ in range(4)]
            for thread in threads:
                thread.start()
            await asyncio.sleep(0.1)  # the threads have joined the flight
            leader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await leader
            await asyncio.to_thread(lambda: [t.join(10) for t in threads])
        finally:
            await transport.aclose()

    asyncio.run(scenario())
    assert _codes(results) == [200] * 4


def test_FLIGHT_5_R7662_3_a_stalled_server_answers_every_request_with_503(
    issuer_server: Any, sync_transport: HttpxTransport
) -> None:
    """The server hangs past every timeout: leader and followers (threads) all get 503
    ``temporarily_unavailable`` with Retry-After; none waits forever, none gets a 500."""
    issuer_server.server.delay = 3.0
    guard = jwt_guard(issuer_server, sync_transport, timeout=0.3)
    token = issuer_server.mint()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        decisions = list(pool.map(lambda _: guard.check(bearer(token), AUTHENTICATED), range(6)))
    assert time.monotonic() - started < 2.5
    assert [d.status for d in decisions] == [503] * 6
    assert all(d.error is not None and d.error.code == "temporarily_unavailable" for d in decisions)


def test_FLIGHT_1_R7662_3_introspection_followers_survive_a_cancelled_leader(
    stub: IntrospectionStub,
) -> None:
    """The same for an introspection exchange: the leader's task is cancelled mid-request."""
    stub.answers["opaque"] = active(exp=INTROSPECTION_NOW + 3600)
    stub.server.delay = STALL
    verifier = verifier_for(stub)

    async def scenario() -> list[Decision | BaseException]:
        transport = AsyncHttpxTransport()
        guard = Guard(verifier, clock=FrozenClock(INTROSPECTION_NOW), async_transport=transport)
        try:
            leader = asyncio.ensure_future(guard.acheck(bearer("opaque"), AUTHENTICATED))
            await _wait_for_arrivals(stub.server, "/introspect", 1)
            followers = [
                asyncio.ensure_future(guard.acheck(bearer("opaque"), AUTHENTICATED))
                for _ in range(4)
            ]
            await asyncio.sleep(0.05)
            leader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await leader
            return list(await asyncio.gather(*followers, return_exceptions=True))
        finally:
            await transport.aclose()

    assert _codes(asyncio.run(scenario())) == [200] * 4
    assert stub.calls == 2


def test_FLIGHT_4_each_verifier_owns_its_single_flight(
    issuer_server: Any, sync_transport: HttpxTransport
) -> None:
    """Two verifiers never share an exchange (before: one module-global registry, keyed by URL,
    so a verifier with other rules could hand its answer, or its failure, to another)."""
    issuer_server.server.delay = 0.3
    first = jwt_guard(issuer_server, sync_transport)
    second = jwt_guard(issuer_server, sync_transport)
    token = issuer_server.mint()
    with ThreadPoolExecutor(max_workers=2) as pool:
        decisions = list(
            pool.map(lambda guard: guard.check(bearer(token), AUTHENTICATED), [first, second])
        )
    assert [d.status for d in decisions] == [200, 200]
    assert issuer_server.jwks_fetches == 2


class _LeakingVerifier:
    """A verifier whose flow leaks another task's ``CancelledError`` (a buggy extension)."""

    def cached(self, token: str, now: float, max_cache_age: float | None = None) -> None:
        return None

    def verify(self, token: str, now: float) -> Flow[Principal]:
        raise asyncio.CancelledError
        yield  # pragma: no cover - makes this a generator


def test_FLIGHT_3_a_cancellation_that_is_not_this_requests_is_a_503_not_a_500() -> None:
    """``Guard.acheck`` answers 503 when a ``CancelledError`` reaches it while its own task was
    never cancelled (before: it escaped, so the server sent a 500 or nothing)."""
    guard = Guard(_LeakingVerifier(), clock=FrozenClock(NOW))
    decision = asyncio.run(guard.acheck(bearer("token"), AUTHENTICATED))
    assert decision.status == 503
    assert decision.error is not None and decision.error.code == "temporarily_unavailable"


def test_FLIGHT_4_shared_tags_only_requests_with_a_flight_key() -> None:
    """The wrapper a verifier puts around its flows (sans-I/O: driven with next/send)."""
    flights = SingleFlight()

    def flow() -> Flow[str]:
        first = yield HttpRequest("GET", "https://as.example/a", flight_key="a")
        second = yield HttpRequest("GET", "https://as.example/b")
        return f"{first.status} {second.status}"

    class Recorder:
        def __init__(self) -> None:
            self.seen: list[HttpRequest] = []

        def send(self, request: HttpRequest) -> Any:
            from stepup_mfa._verify.flow import HttpResponse

            self.seen.append(request)
            return HttpResponse(200)

    recorder = Recorder()
    assert run_sync(shared(flow(), flights), recorder) == "200 200"
    assert [r.flights for r in recorder.seen] == [flights, None]
    assert len(flights) == 0
