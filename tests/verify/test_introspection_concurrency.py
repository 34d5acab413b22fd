"""Single flight and cache behaviour under concurrency (R7662-8, R7662-9), threads and asyncio.

"Concurrent" is made exact rather than hoped for: the stub holds its answer until every request
has reached the point of sending (counted as each flow yields), so all of them are in flight at
once. No sleeps, no timing assertions.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from introspection_fixtures import (
    NOW,
    Arrivals,
    IntrospectionStub,
    active,
    announcing,
    check,
    verifier_for,
)

from stepup_mfa._core.principal import Principal
from stepup_mfa._verify.flow import run_async, run_sync
from stepup_mfa._verify.introspection import IntrospectionVerifier
from stepup_mfa._verify.transports import AsyncHttpxTransport, HttpxTransport
from stepup_mfa.testing.server import Reply

REQUESTS = 100


def _threaded_check(
    verifier: IntrospectionVerifier,
    tokens: list[str],
    transport: HttpxTransport,
    arrived: Arrivals,
) -> list[Principal]:
    start = threading.Barrier(len(tokens))

    def one(token: str) -> Principal:
        start.wait()
        principal = verifier.cached(token, NOW)
        if principal is not None:
            return principal
        return run_sync(announcing(verifier.verify(token, NOW), arrived), transport)

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        return list(pool.map(one, tokens))


async def _async_check(
    verifier: IntrospectionVerifier,
    tokens: list[str],
    transport: AsyncHttpxTransport,
    arrived: Arrivals,
) -> list[Principal]:
    async def one(token: str) -> Principal:
        principal = verifier.cached(token, NOW)
        if principal is not None:
            return principal
        return await run_async(announcing(verifier.verify(token, NOW), arrived), transport)

    return list(await asyncio.gather(*(one(token) for token in tokens)))


def test_R7662_8_hundred_threads_one_fresh_token_one_call(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers["fresh"] = active()
    arrived = Arrivals()
    stub.release_when = lambda: arrived.count >= REQUESTS
    principals = _threaded_check(verifier_for(stub), ["fresh"] * REQUESTS, transport, arrived)
    assert stub.calls == 1
    assert {p.subject for p in principals} == {"u1"}


def test_R7662_8_hundred_threads_distinct_tokens_hundred_calls(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    tokens = [f"token-{n}" for n in range(REQUESTS)]
    for n, token in enumerate(tokens):
        stub.answers[token] = active(sub=f"user-{n}")
    arrived = Arrivals()
    principals = _threaded_check(verifier_for(stub), tokens, transport, arrived)
    assert stub.calls == REQUESTS
    assert [p.subject for p in principals] == [f"user-{n}" for n in range(REQUESTS)]


@pytest.mark.anyio
async def test_R7662_8_hundred_tasks_one_fresh_token_one_call(stub: IntrospectionStub) -> None:
    stub.answers["fresh"] = active()
    arrived = Arrivals()
    stub.release_when = lambda: arrived.count >= REQUESTS
    transport = AsyncHttpxTransport()
    try:
        principals = await _async_check(
            verifier_for(stub), ["fresh"] * REQUESTS, transport, arrived
        )
    finally:
        await transport.aclose()
    assert stub.calls == 1
    assert {p.subject for p in principals} == {"u1"}


@pytest.mark.anyio
async def test_R7662_8_hundred_tasks_distinct_tokens_hundred_calls(
    stub: IntrospectionStub,
) -> None:
    tokens = [f"token-{n}" for n in range(REQUESTS)]
    for n, token in enumerate(tokens):
        stub.answers[token] = active(sub=f"user-{n}")
    transport = AsyncHttpxTransport()
    try:
        principals = await _async_check(verifier_for(stub), tokens, transport, Arrivals())
    finally:
        await transport.aclose()
    assert stub.calls == REQUESTS
    assert [p.subject for p in principals] == [f"user-{n}" for n in range(REQUESTS)]


@pytest.mark.anyio
async def test_R7662_8_threads_and_tasks_share_one_call(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    """Half the requests on worker threads, half as asyncio tasks: still one exchange."""
    stub.answers["fresh"] = active()
    verifier = verifier_for(stub)
    arrived = Arrivals()
    half = REQUESTS // 2
    stub.release_when = lambda: arrived.count >= REQUESTS
    async_transport = AsyncHttpxTransport()
    loop = asyncio.get_running_loop()
    try:
        threaded = loop.run_in_executor(
            None, _threaded_check, verifier, ["fresh"] * half, transport, arrived
        )
        tasks = await _async_check(verifier, ["fresh"] * half, async_transport, arrived)
        threads = await threaded
    finally:
        await async_transport.aclose()
    assert stub.calls == 1
    assert len(tasks) + len(threads) == REQUESTS


def test_R7662_8_after_single_flight_the_answer_is_cached(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    stub.answers["fresh"] = active()
    verifier = verifier_for(stub)
    arrived = Arrivals()
    stub.release_when = lambda: arrived.count >= 10
    _threaded_check(verifier, ["fresh"] * 10, transport, arrived)
    assert verifier.cached("fresh", NOW + 1) is not None
    assert stub.calls == 1


def test_R7662_9_I4_hundred_threads_after_exp_rejected_without_a_call(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    from stepup_mfa._core.errors import InvalidToken

    stub.answers["short"] = active(exp=NOW + 10)
    verifier = verifier_for(stub, cache_ttl=300)
    check(verifier, "short", NOW, transport)

    def late(_: int) -> str:
        try:
            check(verifier, "short", NOW + 11, transport)
        except InvalidToken as error:
            return error.description
        return "allowed"

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = set(pool.map(late, range(REQUESTS)))
    assert outcomes == {"The access token expired"}
    assert stub.calls == 1


def test_R7662_3_concurrent_waiters_all_get_503_when_the_shared_call_fails(
    stub: IntrospectionStub, transport: HttpxTransport
) -> None:
    from stepup_mfa._core.errors import VerifierUnavailable

    stub.answers["fresh"] = Reply(500, b"oops")  # a route reply, so that the stub can hold it
    verifier = verifier_for(stub)
    arrived = Arrivals()
    stub.release_when = lambda: arrived.count >= 20
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def one() -> None:
        start.wait()
        try:
            run_sync(announcing(verifier.verify("fresh", NOW), arrived), transport)
            outcome = "allowed"
        except VerifierUnavailable as error:
            outcome = str(error.status)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["503"] * 20
    assert stub.calls == 1
    assert verifier.cached("fresh", NOW) is None
