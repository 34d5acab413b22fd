"""Per-request cost of opaque-token verification: warm cache versus introspecting every request.

Runs an introspection endpoint on 127.0.0.1 (the test kit's LocalHTTPServer) and times, side by
side in one run, what the Guard does per request in three regimes:

- warm cache: ``cached()`` answers from memory (the hot path, no I/O, no generator);
- every request, blocking: ``cached(..., max_cache_age=0)`` then the flow over ``HttpxTransport``;
- every request, asyncio: the same flow over ``AsyncHttpxTransport``.

The loopback numbers are a floor: a real authorization server adds its network round trip and
its own work to every introspected request. Usage: ``python bench/bench_introspection.py [N]``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable

from stepup_mfa._verify.flow import run_async, run_sync
from stepup_mfa._verify.introspection import ClientSecretBasic, IntrospectionVerifier
from stepup_mfa._verify.transports import AsyncHttpxTransport, HttpxTransport
from stepup_mfa.testing.server import LocalHTTPServer, RecordedRequest, Reply

NOW = 1_800_000_000.0
TOKEN = "bench-opaque-token-0123456789"
ANSWER = {
    "active": True,
    "iss": "https://as.example.com",
    "aud": "https://api.example.com",
    "sub": "u1",
    "scope": "cats:read",
    "exp": NOW + 3600,
    "auth_time": NOW - 30,
    "acr": "urn:example:acr:mfa",
    "amr": ["pwd", "otp"],
}


def answer(_: RecordedRequest) -> Reply:
    return Reply(200, json.dumps(ANSWER).encode(), {"Content-Type": "application/json"})


def per_request(run: Callable[[int], None], requests: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the mean seconds per request."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        run(requests)
        samples.append((time.perf_counter() - started) / requests)
    return statistics.median(samples)


def main(requests: int = 2000) -> None:
    with LocalHTTPServer({"/introspect": answer}) as server:
        verifier = IntrospectionVerifier(
            server.url + "/introspect",
            client_auth=ClientSecretBasic("rs-api", "secret"),
            issuer="https://as.example.com",
            audience="https://api.example.com",
        )
        transport = HttpxTransport()
        async_transport = AsyncHttpxTransport()
        loop = asyncio.new_event_loop()
        try:
            run_sync(verifier.verify(TOKEN, NOW), transport)  # warm the cache and the pool

            def warm(n: int) -> None:
                for _ in range(n):
                    if verifier.cached(TOKEN, NOW) is None:
                        raise AssertionError("cache miss")

            def live_sync(n: int) -> None:
                for _ in range(n):
                    if verifier.cached(TOKEN, NOW, max_cache_age=0) is None:
                        run_sync(verifier.verify(TOKEN, NOW), transport)

            async def live_async_loop(n: int) -> None:
                for _ in range(n):
                    if verifier.cached(TOKEN, NOW, max_cache_age=0) is None:
                        await run_async(verifier.verify(TOKEN, NOW), async_transport)

            def live_async(n: int) -> None:
                loop.run_until_complete(live_async_loop(n))

            live = max(requests // 10, 50)
            live_async(10)  # open the async pool's connection
            before = server.count("/introspect")
            results = [
                ("warm cache (cached() hit)", per_request(warm, requests * 10), 0),
                ("introspect every request (sync)", per_request(live_sync, live), live),
                ("introspect every request (asyncio)", per_request(live_async, live), live),
            ]
            calls = server.count("/introspect") - before
        finally:
            transport.close()
            loop.run_until_complete(async_transport.aclose())
            loop.close()

    baseline = results[0][1]
    print(f"introspection endpoint on 127.0.0.1, Python {sys.version.split()[0]}")
    print(f"{'regime':<38}{'per request':>14}{'vs warm':>12}")
    for name, seconds, _ in results:
        print(f"{name:<38}{seconds * 1e6:>11.1f} us{seconds / baseline:>11.0f}x")
    print(f"introspection calls made by the live runs: {calls}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
