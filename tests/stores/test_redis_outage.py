"""A real redis-server killed mid-run (STORE-2, R9449-13).

The caches fall back: every request is still decided as it would be without Redis (a token seen
before, a new one, an inactive one, one without the scope), one warning is logged per back-off,
and no request gets a 5xx. The DPoP replay store fails closed: once Redis is gone, proofs are
refused with 503 (a replayed one too), never accepted, until Redis is back.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry
from tests.stores.conftest import start_redis, stop
from tests.stores.test_dpop_replay_redis import API, NOW, Stub, proof, request

from stepup_mfa import DPoP, Guard, Policy, RequestView
from stepup_mfa._verify.introspection import ClientSecretBasic, IntrospectionVerifier
from stepup_mfa._verify.transports import AsyncHttpxTransport, HttpxTransport
from stepup_mfa.integrations.redis import (
    INTROSPECTION_CODEC,
    AsyncRedisStore,
    AsyncTieredStore,
    RedisReplayStore,
    RedisStore,
    TieredStore,
)
from stepup_mfa.testing import FakeIssuer

AUDIENCE = "https://api.example.com"
CATS = Policy(scopes="cats:read", name="cats")
QUICK = {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}


@pytest.fixture
def doomed(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A redis-server of this test's own, to kill."""
    process, port = start_redis(tmp_path)
    yield process, port
    stop(process)


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE) as fake:
        yield fake


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def kill(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait(timeout=10)


def verifier(issuer: FakeIssuer, store: Any) -> IntrospectionVerifier:
    return IntrospectionVerifier(
        issuer.introspection_endpoint,
        client_auth=ClientSecretBasic(*issuer.introspection_client),
        issuer=issuer.issuer,
        audience=AUDIENCE,
        store=store,
        allow_insecure_http=True,
    )


def get(token: str) -> RequestView:
    return RequestView("GET", "/cats/", (f"Bearer {token}",))


def outage_warnings(caplog: pytest.LogCaptureFixture) -> int:
    return len([r for r in caplog.records if "unavailable" in r.getMessage()])


def tokens(issuer: FakeIssuer) -> dict[str, tuple[str, int]]:
    """name -> (token, the status it must get)."""
    return {
        "fresh": (issuer.opaque_token(scope="cats:read"), 200),
        "inactive": (issuer.opaque_token(active=False), 401),
        "no scope": (issuer.opaque_token(scope="dogs:read"), 403),
    }


def test_STORE_2_blocking_caches_fall_back_when_redis_dies(
    doomed: tuple[subprocess.Popen[bytes], int],
    issuer: FakeIssuer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    process, port = doomed
    client = redis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0), **QUICK)  # type: ignore[arg-type]
    store = TieredStore(RedisStore(client, codec=INTROSPECTION_CODEC, backoff=60))
    transport = HttpxTransport()
    guard = Guard(verifier(issuer, store), transport=transport)
    seen = issuer.opaque_token(scope="cats:read")
    try:
        assert guard.check(get(seen), CATS).allowed
        kill(process)
        with caplog.at_level(logging.WARNING, logger="stepup_mfa"):
            statuses = {name: guard.check(get(token), CATS).status for name, (token, _) in
                        tokens(issuer).items()}  # fmt: skip
            statuses["seen"] = guard.check(get(seen), CATS).status
    finally:
        transport.close()
        client.close()
    assert statuses == {"fresh": 200, "inactive": 401, "no scope": 403, "seen": 200}
    assert outage_warnings(caplog) == 1


@pytest.mark.anyio
async def test_STORE_2_STORE_3_asyncio_caches_fall_back_when_redis_dies(
    doomed: tuple[subprocess.Popen[bytes], int],
    issuer: FakeIssuer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    process, port = doomed
    client = redis.asyncio.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0), **QUICK)  # type: ignore[arg-type]
    store = AsyncTieredStore(AsyncRedisStore(client, codec=INTROSPECTION_CODEC, backoff=60))
    transport = AsyncHttpxTransport()
    guard = Guard(verifier(issuer, store), async_transport=transport)
    seen = issuer.opaque_token(scope="cats:read")
    try:
        assert (await guard.acheck(get(seen), CATS)).allowed
        await store.drain()
        kill(process)
        with caplog.at_level(logging.WARNING, logger="stepup_mfa"):
            statuses = {}
            for name, (token, _) in tokens(issuer).items():
                statuses[name] = (await guard.acheck(get(token), CATS)).status
            statuses["seen"] = (await guard.acheck(get(seen), CATS)).status
            await store.drain()
    finally:
        await transport.aclose()
        await client.aclose()
    assert statuses == {"fresh": 200, "inactive": 401, "no scope": 403, "seen": 200}
    assert outage_warnings(caplog) == 1


@pytest.fixture
def key() -> Generator[Any, None, None]:
    from joserfc import jwk

    yield jwk.ECKey.generate_key("P-256")


def test_STORE_2_R9449_13_replay_store_fails_closed_when_redis_dies_and_recovers(
    doomed: tuple[subprocess.Popen[bytes], int],
    key: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    process, port = doomed
    client = redis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0), **QUICK)  # type: ignore[arg-type]
    replay = RedisReplayStore(client, backoff=60)
    guard = Guard(Stub(key.thumbprint()), clock=lambda: NOW, dpop=DPoP(API, replay=replay))
    first = proof(key)
    assert guard.check(request(first), Policy()).allowed
    kill(process)
    with caplog.at_level(logging.WARNING, logger="stepup_mfa"):
        outcomes = [guard.check(request(p), Policy()) for p in (first, proof(key), proof(key))]
    assert [(d.allowed, d.status) for d in outcomes] == [(False, 503)] * 3
    assert outage_warnings(caplog) == 1
    # Back: with no back-off left, the next proof is recorded again, the old one still refused.
    revived, _ = start_redis(tmp_path, port=port)
    try:
        guard = Guard(
            Stub(key.thumbprint()),
            clock=lambda: NOW,
            dpop=DPoP(API, replay=RedisReplayStore(client, backoff=0)),
        )
        fresh = proof(key)
        assert guard.check(request(fresh), Policy()).allowed
        again = guard.check(request(fresh), Policy())
        assert not again.allowed and again.error.code == "invalid_dpop_proof"
    finally:
        client.close()
        stop(revived)
