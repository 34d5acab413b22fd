"""Rotation under load: threads and asyncio tasks verify while the issuer rotates its keys.

Each round the issuer publishes a new key and signs with it at once (the worst case: the
resource server learns of the key from a token). Every worker then verifies fresh tokens of the
new and the previous round. Expected: zero wrongful rejections, and JWKS fetches bounded by the
rounds (the single-flight drivers merge concurrent refreshes into one exchange).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest

from stepup_mfa._verify.flow import run_async, run_sync
from stepup_mfa._verify.transports import AsyncHttpxTransport, HttpxTransport

NOW = 1_900_000_000
ROUNDS = 4
ROUND_SECONDS = 60  # longer than the unknown-kid cooldown (30 s)


def _round_tokens(issuer_server: Any, round_index: int, count: int) -> list[str]:
    key = issuer_server.new_key("RS256", kid=f"round-{round_index}")
    if len(issuer_server.keys) > 2:
        issuer_server.retire(issuer_server.keys[0])
    at = NOW + round_index * ROUND_SECONDS
    return [
        issuer_server.mint(
            key, claims=issuer_server.claims(jti=f"r{round_index}-{n}", iat=at, exp=at + 3600)
        )
        for n in range(count)
    ]


def test_R7515_4_rotation_under_load_16_threads(issuer_server: Any, make_verifier: Any) -> None:
    """16 threads, 4 rotations: zero wrongful rejections, at most 2 fetches per rotation."""
    verifier = make_verifier()
    issuer_server.server.delay = 0.05  # keep each fetch on the wire long enough to be shared
    threads = 16
    per_thread = 4
    client = httpx.Client()
    transport = HttpxTransport(client)
    run_sync(verifier.startup_flow(NOW - 1), transport)
    failures: list[BaseException] = []
    verified = [0]
    lock = threading.Lock()
    for round_index in range(ROUNDS):
        tokens = _round_tokens(issuer_server, round_index, threads * per_thread)
        at = NOW + round_index * ROUND_SECONDS
        start = threading.Barrier(threads)

        def work(
            worker: int,
            tokens: list[str] = tokens,
            at: int = at,
            start: threading.Barrier = start,
        ) -> None:
            start.wait()
            for token in tokens[worker * per_thread : (worker + 1) * per_thread]:
                try:
                    principal = verifier.cached(token, at) or run_sync(
                        verifier.verify(token, at), transport
                    )
                    assert principal.subject == "user-1"
                    with lock:
                        verified[0] += 1
                except BaseException as exc:  # collected and reported below
                    with lock:
                        failures.append(exc)

        pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in pool)
    client.close()
    assert failures == []
    assert verified[0] == ROUNDS * threads * per_thread
    assert issuer_server.jwks_fetches <= 1 + 2 * ROUNDS


@pytest.mark.anyio
async def test_R7515_4_rotation_under_load_200_asyncio_tasks(
    issuer_server: Any, make_verifier: Any
) -> None:
    """200 tasks per rotation, all needing the refresh at once: exactly one fetch each time."""
    verifier = make_verifier()
    issuer_server.server.delay = 0.05
    tasks = 200
    async with httpx.AsyncClient() as client:
        transport = AsyncHttpxTransport(client)
        await run_async(verifier.startup_flow(NOW - 1), transport)
        for round_index in range(ROUNDS):
            tokens = _round_tokens(issuer_server, round_index, 20)
            at = NOW + round_index * ROUND_SECONDS

            async def one(token: str, at: int = at) -> str | None:
                principal = verifier.cached(token, at) or await run_async(
                    verifier.verify(token, at), transport
                )
                return principal.subject

            results = await asyncio.gather(
                *(one(tokens[n % len(tokens)]) for n in range(tasks)), return_exceptions=True
            )
            assert results == ["user-1"] * tasks
    assert issuer_server.jwks_fetches == 1 + ROUNDS


@pytest.mark.anyio
async def test_cold_start_1000_concurrent_requests_cause_one_fetch(
    issuer_server: Any, make_verifier: Any
) -> None:
    """A cold verifier hit by 1000 tasks at once: one metadata fetch and one JWKS fetch."""
    verifier = make_verifier()
    issuer_server.server.delay = 0.05
    token = issuer_server.mint()
    async with httpx.AsyncClient() as client:
        transport = AsyncHttpxTransport(client)
        results = await asyncio.gather(
            *(run_async(verifier.verify(token, NOW), transport) for _ in range(1000))
        )
    assert {p.subject for p in results} == {"user-1"}
    assert (issuer_server.metadata_fetches, issuer_server.jwks_fetches) == (1, 1)


@pytest.mark.anyio
async def test_K2_concurrent_kid_flood_one_fetch(issuer_server: Any, make_verifier: Any) -> None:
    """500 concurrent tokens with random unknown kids: one refresh, all rejected."""
    from stepup_mfa._core.errors import InvalidToken

    verifier = make_verifier()
    issuer_server.server.delay = 0.05
    stranger = issuer_server.new_key("RS256", kid=None, publish=False)
    tokens = [
        issuer_server.sign_raw(
            issuer_server.header(stranger, kid=f"random-{n}"), issuer_server.claims(), stranger
        )
        for n in range(50)
    ]
    async with httpx.AsyncClient() as client:
        transport = AsyncHttpxTransport(client)
        await run_async(verifier.startup_flow(NOW - 1), transport)
        results = await asyncio.gather(
            *(run_async(verifier.verify(tokens[n % 50], NOW), transport) for n in range(500)),
            return_exceptions=True,
        )
    assert all(isinstance(r, InvalidToken) for r in results)
    assert issuer_server.jwks_fetches == 2  # startup + one refresh for the whole flood
