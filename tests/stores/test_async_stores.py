"""The asyncio Redis stores (STORE-3): the same keys, envelope and expiry as the blocking store,
driven by ``redis.asyncio`` against a real redis-server, and the Guard's asyncio path reading
them by ``await`` so that one worker's answer serves another without blocking the event loop."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio

from stepup_mfa import Guard, Policy, RequestView
from stepup_mfa._verify.introspection import ClientSecretBasic, IntrospectionVerifier
from stepup_mfa._verify.transports import AsyncHttpxTransport
from stepup_mfa.integrations.redis import (
    INTROSPECTION_CODEC,
    AsyncRedisStore,
    AsyncTieredStore,
    Codec,
    RedisStore,
)
from stepup_mfa.testing import FakeIssuer

NOW = 1_800_000_000.0
TEXT: Codec[str] = Codec(lambda value: value, str)
AUDIENCE = "https://api.example.com"
CATS = Policy(scopes="cats:read", name="cats")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def aclient(redis_client: redis.Redis) -> AsyncIterator[redis.asyncio.Redis]:
    pool = redis_client.connection_pool.connection_kwargs
    client = redis.asyncio.Redis(host=pool["host"], port=pool["port"], db=pool.get("db", 0))
    yield client
    await client.aclose()


@pytest.fixture
def astore(aclient: redis.asyncio.Redis) -> AsyncRedisStore[str]:
    return AsyncRedisStore(aclient, codec=TEXT, prefix="async:", clock=lambda: NOW)


@pytest.mark.anyio
async def test_STORE_3_a_value_reads_back_before_its_expiry(astore: AsyncRedisStore[str]) -> None:
    await astore.put("k", "principal", NOW + 60)
    assert await astore.get("k", NOW + 59.9) == "principal"


@pytest.mark.anyio
@pytest.mark.parametrize("later", [60.0, 61.0, 3600.0])
async def test_STORE_3_R7662_9_an_entry_is_never_served_at_or_after_its_expiry(
    astore: AsyncRedisStore[str], later: float
) -> None:
    await astore.put("k", "principal", NOW + 60)
    assert await astore.get("k", NOW + later) is None


@pytest.mark.anyio
async def test_STORE_3_discard_and_clear(astore: AsyncRedisStore[str]) -> None:
    for index in range(5):
        await astore.put(f"k{index}", "v", NOW + 60)
    await astore.discard("k0")
    assert await astore.get("k0", NOW) is None
    await astore.clear()
    assert all([await astore.get(f"k{index}", NOW) is None for index in range(5)])


@pytest.mark.anyio
async def test_STORE_3_redis_sets_the_ttl_from_the_entrys_expiry(
    astore: AsyncRedisStore[str], redis_client: redis.Redis
) -> None:
    await astore.put("k", "v", NOW + 30)
    ttl: Any = redis_client.pttl("async:k")
    assert 29_000 <= ttl <= 30_000


@pytest.mark.anyio
@pytest.mark.parametrize("writer", ["blocking", "asyncio"])
async def test_STORE_3_blocking_and_asyncio_stores_read_each_others_entries(
    astore: AsyncRedisStore[str], redis_client: redis.Redis, writer: str
) -> None:
    """One layout, two clients: a WSGI and an ASGI worker share entries."""
    blocking = RedisStore(redis_client, codec=TEXT, prefix="async:", clock=lambda: NOW)
    if writer == "blocking":
        blocking.put("k", "v", NOW + 60)
        assert await astore.entry("k", NOW) == ("v", NOW + 60)
    else:
        await astore.put("k", "v", NOW + 60)
        assert blocking.entry("k", NOW) == ("v", NOW + 60)


@pytest.mark.anyio
async def test_STORE_3_a_corrupt_entry_is_a_miss(
    astore: AsyncRedisStore[str], redis_client: redis.Redis
) -> None:
    redis_client.set("async:k", b"\xff not json")
    assert await astore.get("k", NOW) is None


@pytest.mark.anyio
async def test_STORE_2_an_unreachable_redis_is_a_miss_logged_once_per_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = redis.asyncio.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    store = AsyncRedisStore(client, codec=TEXT, backoff=60)
    with caplog.at_level(logging.WARNING, logger="stepup_mfa"):
        await store.put("k", "v", NOW + 60)
        for _ in range(5):
            assert await store.get("k", NOW) is None
    await client.aclose()
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1


@pytest.mark.anyio
async def test_STORE_3_tiered_get_is_memory_until_loaded(astore: AsyncRedisStore[str]) -> None:
    tiered = AsyncTieredStore(astore, local_ttl=60)
    await astore.put("k", "v", NOW + 2)
    assert tiered.get("k", NOW) is None  # never a blocking read
    assert await tiered.aload("k", NOW)
    assert tiered.get("k", NOW) == "v"
    assert tiered.get("k", NOW + 2) is None  # the copy never outlives the shared entry
    assert not await tiered.aload("absent", NOW)


@pytest.mark.anyio
async def test_STORE_3_tiered_writes_reach_redis_in_a_task(
    astore: AsyncRedisStore[str],
) -> None:
    writer, reader = AsyncTieredStore(astore), AsyncTieredStore(astore)
    writer.put("k", "v", NOW + 60)
    assert writer.get("k", NOW) == "v"
    await writer.drain()
    assert await reader.aload("k", NOW)
    writer.discard("k")
    await writer.drain()
    assert await astore.get("k", NOW) is None


def test_STORE_3_tiered_writes_outside_a_loop_are_dropped() -> None:
    client = redis.asyncio.Redis(host="127.0.0.1", port=1)
    tiered = AsyncTieredStore(AsyncRedisStore(client, codec=TEXT))
    tiered.put("k", "v", NOW + 60)  # no running loop: memory only, and no "never awaited"
    assert tiered.get("k", NOW) == "v"


# -- the Guard's asyncio path ----------------------------------------------------------------------


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE) as fake:
        yield fake


def worker(issuer: FakeIssuer, aclient: redis.asyncio.Redis, transport: Any) -> Guard:
    store = AsyncTieredStore(AsyncRedisStore(aclient, codec=INTROSPECTION_CODEC))
    verifier = IntrospectionVerifier(
        issuer.introspection_endpoint,
        client_auth=ClientSecretBasic(*issuer.introspection_client),
        issuer=issuer.issuer,
        audience=AUDIENCE,
        store=store,
        allow_insecure_http=True,
    )
    return Guard(verifier, async_transport=transport)


def get(token: str) -> RequestView:
    return RequestView("GET", "/cats/", (f"Bearer {token}",))


@pytest.mark.anyio
@pytest.mark.parametrize("active", [True, False])
async def test_STORE_3_R7662_8_one_introspection_serves_every_asyncio_worker(
    issuer: FakeIssuer, aclient: redis.asyncio.Redis, active: bool
) -> None:
    """An answer, active or negative, fetched by one worker is awaited from Redis by another."""
    token = issuer.opaque_token(active=active, scope="cats:read")
    transport = AsyncHttpxTransport()
    first, second = worker(issuer, aclient, transport), worker(issuer, aclient, transport)
    try:
        decision = await first.acheck(get(token), CATS)
        assert decision.allowed is active
        store = first.verifier.store  # type: ignore[attr-defined]
        await store.drain()
        again = await second.acheck(get(token), CATS)
    finally:
        await transport.aclose()
    assert again.allowed is active and again.status == decision.status
    assert issuer.count("/introspect") == 1


@pytest.mark.anyio
async def test_STORE_3_a_jwt_verified_by_one_asyncio_worker_is_not_verified_again_by_another(
    issuer: FakeIssuer, aclient: redis.asyncio.Redis
) -> None:
    from stepup_mfa import JWTVerifier
    from stepup_mfa.integrations.redis import JWT_CODEC

    def jwt_worker() -> Guard:
        store = AsyncTieredStore(AsyncRedisStore(aclient, codec=JWT_CODEC))
        verifier = JWTVerifier(issuer.issuer, AUDIENCE, cache=store, allow_insecure_http=True)
        return Guard(verifier, async_transport=transport)

    transport = AsyncHttpxTransport()
    first, second = jwt_worker(), jwt_worker()
    flows: list[str] = []
    verify = second.verifier.verify
    second.verifier.verify = lambda token, now: flows.append(token) or verify(token, now)  # type: ignore[method-assign]
    token = issuer.tokens.mint(scope="cats:read")
    try:
        assert (await first.acheck(get(token), CATS)).allowed
        await first.verifier.store.drain()  # type: ignore[attr-defined]
        await second.astartup()  # its own keys, as a worker has after start-up
        assert (await second.acheck(get(token), CATS)).allowed
    finally:
        await transport.aclose()
    assert flows == []  # found in Redis by await, re-judged, never verified again
