"""The stores with the other client shapes (STORE-4): a Sentinel's master and a Redis Cluster,
each started for real (a sentinel watching a standalone server; a one-node cluster owning every
slot), blocking and asyncio. The stores only use ``get``, ``set`` (``nx``/``px``), ``delete`` and
``scan_iter``, so any client with those methods fits."""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel
from tests.stores.conftest import _free_port, start_redis, stop

from stepup_mfa.integrations.redis import AsyncRedisStore, Codec, RedisReplayStore, RedisStore

NOW = 1_800_000_000.0
TEXT: Codec[str] = Codec(lambda value: value, str)


@pytest.fixture(scope="module")
def cluster_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    workdir = tmp_path_factory.mktemp("cluster")
    bus = str(_free_port())  # the default bus port, port + 10000, may not exist
    process, port = start_redis(workdir, "--cluster-enabled", "yes", "--cluster-port", bus)
    node = redis.Redis(host="127.0.0.1", port=port)
    try:
        node.execute_command("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        deadline = time.monotonic() + 10
        while "cluster_state:ok" not in node.execute_command("CLUSTER", "INFO").decode():
            if time.monotonic() > deadline:
                pytest.fail("the one-node cluster did not come up")
            time.sleep(0.05)
        yield port
    finally:
        node.close()
        stop(process)


@pytest.fixture(scope="module")
def sentinel_port(tmp_path_factory: pytest.TempPathFactory, redis_server: str) -> Iterator[int]:
    master_port = redis.Redis.from_url(redis_server).connection_pool.connection_kwargs["port"]
    workdir = tmp_path_factory.mktemp("sentinel")
    port = _free_port()
    config = workdir / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
        f"sentinel monitor primary 127.0.0.1 {master_port} 1\n"
    )
    process = subprocess.Popen(
        ["redis-server", str(config), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sentinel = redis.sentinel.Sentinel([("127.0.0.1", port)], socket_timeout=0.5)  # type: ignore[no-untyped-call]
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                sentinel.discover_master("primary")  # type: ignore[no-untyped-call]
                break
            except (redis.ConnectionError, redis.sentinel.MasterNotFoundError):
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("the sentinel did not come up")
                time.sleep(0.05)
        yield port
    finally:
        for node in sentinel.sentinels:
            node.close()
        stop(process)


@pytest.fixture(params=["sentinel", "cluster"])
def client(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "cluster":
        port = request.getfixturevalue("cluster_port")
        cluster = redis.cluster.RedisCluster(host="127.0.0.1", port=port)
        yield cluster
        cluster.close()
        return
    port = request.getfixturevalue("sentinel_port")
    sentinel = redis.sentinel.Sentinel([("127.0.0.1", port)], socket_timeout=0.5)  # type: ignore[no-untyped-call]
    master = sentinel.master_for("primary", socket_timeout=0.5)  # type: ignore[no-untyped-call]
    yield master
    master.close()
    for node in sentinel.sentinels:
        node.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sentinel", "cluster"])
async def aclient(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "cluster":
        port = request.getfixturevalue("cluster_port")
        cluster = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=port)
        yield cluster
        await cluster.aclose()
        return
    port = request.getfixturevalue("sentinel_port")
    sentinel = redis.asyncio.sentinel.Sentinel([("127.0.0.1", port)], socket_timeout=0.5)
    master = sentinel.master_for("primary", socket_timeout=0.5)
    yield master
    await master.aclose()
    for node in sentinel.sentinels:
        await node.aclose()


def test_STORE_4_a_blocking_store_reads_back_and_expires(client: Any) -> None:
    store = RedisStore(client, codec=TEXT, prefix="topology:", clock=lambda: NOW)
    store.put("k", "principal", NOW + 60)
    assert store.get("k", NOW) == "principal"
    assert store.get("k", NOW + 60) is None
    assert 0 < client.pttl("topology:k") <= 60_000


def test_STORE_4_clear_finds_every_key(client: Any) -> None:
    """``scan_iter`` and a many-key ``delete`` (split by slot on a cluster)."""
    store = RedisStore(client, codec=TEXT, prefix="topology:", clock=lambda: NOW)
    for index in range(30):
        store.put(f"k{index}", "v", NOW + 60)
    store.clear()
    assert all(store.get(f"k{index}", NOW) is None for index in range(30))


def test_STORE_4_R9449_13_the_replay_store_records_a_jti_once(client: Any) -> None:
    replay = RedisReplayStore(client, prefix="topology-jti:")
    key = f"jti-{time.monotonic_ns()}"
    assert replay.add(key, NOW + 60, NOW)
    assert not replay.add(key, NOW + 60, NOW)


@pytest.mark.anyio
async def test_STORE_4_an_asyncio_store_reads_back_and_clears(aclient: Any) -> None:
    store = AsyncRedisStore(aclient, codec=TEXT, prefix="atopology:", clock=lambda: NOW)
    for index in range(10):
        await store.put(f"k{index}", "v", NOW + 60)
    assert await store.get("k3", NOW) == "v"
    assert await store.get("k3", NOW + 60) is None
    await store.clear()
    assert await store.get("k3", NOW) is None


def test_STORE_4_blocking_and_asyncio_clients_share_the_layout(
    cluster_port: int, tmp_path: Path
) -> None:
    """A gunicorn (blocking) worker and a uvicorn (asyncio) worker on one cluster."""
    import asyncio

    blocking = redis.cluster.RedisCluster(host="127.0.0.1", port=cluster_port)
    RedisStore(blocking, codec=TEXT, prefix="mixed:", clock=lambda: NOW).put("k", "v", NOW + 60)
    blocking.close()

    async def read() -> tuple[str, float] | None:
        client = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=cluster_port)
        try:
            return await AsyncRedisStore(client, codec=TEXT, prefix="mixed:").entry("k", NOW)
        finally:
            await client.aclose()

    assert asyncio.run(read()) == ("v", NOW + 60)
