"""One contract for every store: in memory, in a real Redis, and the two tiered.

Stores hold verified facts about tokens; the rules that keep caching safe must hold for each of
them: an entry is never served at or after its own expiry (caching never extends a token's life,
R7662-9), a store that cannot be reached is a miss and never a decision, and entries are read back
exactly as written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from stepup_mfa._verify.cache import MemoryStore, Store
from stepup_mfa.integrations.redis import Codec, RedisStore, TieredStore

NOW = 1_800_000_000.0
TEXT: Codec[str] = Codec(lambda value: value, str)

StoreFactory = Callable[[], Store[str]]


@pytest.fixture(params=["memory", "redis", "tiered"])
def store(request: pytest.FixtureRequest) -> Iterator[Store[str]]:
    if request.param == "memory":
        yield MemoryStore()
        return
    client: redis.Redis = request.getfixturevalue("redis_client")
    shared = RedisStore(client, codec=TEXT, prefix="contract:", clock=lambda: NOW)
    yield shared if request.param == "redis" else TieredStore(shared)


def test_a_missing_key_is_a_miss(store: Store[str]) -> None:
    assert store.get("absent", NOW) is None


def test_a_value_reads_back_before_its_expiry(store: Store[str]) -> None:
    store.put("k", "principal", NOW + 60)
    assert store.get("k", NOW) == "principal"
    assert store.get("k", NOW + 59.9) == "principal"


@pytest.mark.parametrize("later", [60.0, 61.0, 3600.0])
def test_R7662_9_an_entry_is_never_served_at_or_after_its_expiry(
    store: Store[str], later: float
) -> None:
    store.put("k", "principal", NOW + 60)
    assert store.get("k", NOW + later) is None


def test_discard_removes_an_entry(store: Store[str]) -> None:
    store.put("k", "principal", NOW + 60)
    store.discard("k")
    assert store.get("k", NOW) is None


def test_clear_removes_every_entry(store: Store[str]) -> None:
    for index in range(20):
        store.put(f"k{index}", "v", NOW + 60)
    store.clear()
    assert all(store.get(f"k{index}", NOW) is None for index in range(20))


def test_a_later_put_replaces_the_value_and_its_expiry(store: Store[str]) -> None:
    store.put("k", "old", NOW + 600)
    store.put("k", "new", NOW + 10)
    assert store.get("k", NOW) == "new"
    assert store.get("k", NOW + 11) is None


def test_concurrent_writers_and_readers_see_whole_values(store: Store[str]) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for index in range(50):
                store.put(f"w{worker}-{index}", f"value-{worker}-{index}", NOW + 60)
                assert store.get(f"w{worker}-{index}", NOW) == f"value-{worker}-{index}"
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def unreachable_redis() -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )


def test_an_unreachable_redis_is_a_miss_and_never_raises() -> None:
    """Fail closed: a cache outage costs calls to the authorization server, never an allow."""
    client = unreachable_redis()
    store = RedisStore(client, codec=TEXT)
    store.put("k", "principal", NOW + 60)
    assert store.get("k", NOW) is None
    store.discard("k")
    store.clear()
    client.close()


def test_after_a_redis_error_the_store_stops_asking_for_a_while(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = unreachable_redis()
    store = RedisStore(client, codec=TEXT, backoff=60)
    with caplog.at_level("WARNING", logger="stepup_mfa"):
        for _ in range(10):
            assert store.get("k", NOW) is None
    assert len(caplog.records) == 1
    client.close()


def test_a_corrupt_redis_entry_is_a_miss(redis_client: redis.Redis) -> None:
    store = RedisStore(redis_client, codec=TEXT, prefix="contract:")
    redis_client.set("contract:k", b"\xff not json")
    assert store.get("k", NOW) is None


def test_redis_ttl_bounds_memory_but_expiry_is_judged_by_the_callers_clock(
    redis_client: redis.Redis,
) -> None:
    wall_clock = {"now": NOW}
    store = RedisStore(
        redis_client, codec=TEXT, prefix="contract:", clock=lambda: wall_clock["now"]
    )
    store.put("k", "v", NOW + 30)
    ttl_ms: Any = redis_client.pttl("contract:k")
    assert 29_000 <= ttl_ms <= 30_000
    assert store.get("k", NOW + 30) is None


def test_tiered_copy_never_outlives_the_shared_entry(redis_client: redis.Redis) -> None:
    shared = RedisStore(redis_client, codec=TEXT, prefix="contract:", clock=lambda: NOW)
    tiered = TieredStore(shared, local_ttl=60)
    shared.put("k", "v", NOW + 2)
    assert tiered.get("k", NOW) == "v"  # copied into memory
    assert tiered.get("k", NOW + 2) is None


def test_tiered_discard_in_one_worker_reaches_another_within_local_ttl(
    redis_client: redis.Redis,
) -> None:
    shared = RedisStore(redis_client, codec=TEXT, prefix="contract:", clock=lambda: NOW)
    worker_a, worker_b = TieredStore(shared, local_ttl=5), TieredStore(shared, local_ttl=5)
    worker_a.put("k", "v", NOW + 600)
    assert worker_b.get("k", NOW) == "v"
    worker_a.discard("k")
    assert worker_b.get("k", NOW + 5) is None
