"""Stores shared through Redis, for deployments with many worker processes or hosts.

Every store the library keeps has a Redis form here:

============================================  =================================================
store (what it holds)                         Redis form
============================================  =================================================
:class:`~stepup_mfa.JWTVerifier` ``cache``    ``RedisStore(client, codec=JWT_CODEC)`` (verified
(verified tokens)                             claims and the key that verified them)
:class:`~stepup_mfa.IntrospectionVerifier`    ``RedisStore(client, codec=INTROSPECTION_CODEC)``
``store`` (active answers *and* negative      (an inactive answer, or one for another issuer
answers: inactive, another issuer/audience)   or audience, is a ``CachedAnswer`` without a
                                              principal, kept ``inactive_ttl`` seconds)
:class:`~stepup_mfa.DPoP` ``replay``          :class:`RedisReplayStore` (``SET NX PX``)
(proof ``jti`` s)
the Guard's verdict memo                      none, by design: it is per process, holds
                                              decisions (not facts) and each entry rests on
                                              this process's key state
============================================  =================================================

Put :class:`TieredStore` (blocking client: Flask, gunicorn, WSGI) or :class:`AsyncTieredStore`
(``redis.asyncio`` client: Starlette, FastAPI, uvicorn) in front of a Redis store, so the hot path
of a token seen before stays a memory lookup::

    store = TieredStore(RedisStore(redis.Redis(socket_timeout=0.1), codec=INTROSPECTION_CODEC))
    verifier = IntrospectionVerifier(issuer=..., client_auth=..., store=store)

With :class:`AsyncTieredStore` the Guard's asyncio path reads Redis with ``await`` (it calls
:meth:`AsyncTieredStore.aload` before the verifier's memory lookup) and writes go out as tasks, so
Redis never blocks the event loop. The key, the JSON envelope and the expiry are written once
(:class:`_Layout`) and driven by the blocking and the asyncio client alike.

Clients: any object with the methods used (``get``, ``set`` with ``nx``/``px``, ``delete``,
``scan_iter``) will do, so a standalone ``redis.Redis``, a Sentinel's ``master_for(...)`` or a
``redis.cluster.RedisCluster`` (and their ``redis.asyncio`` forms) can be passed in.

Keys are ``prefix`` + a SHA-256 digest of the token *within the verifier's configuration* (issuer,
audience, client id and the claim rules that decide acceptance), so services with different
settings can share one Redis safely: an entry written under another configuration is never found
(STORE-1), and Redis never holds a token (R7662-11). Redis sets each key's TTL (``PX``) from the
entry's expiry; the expiry itself also travels in the entry and is judged against the caller's
``now``, exactly as in the in-memory store, so a cached entry never outlives what it states.

When Redis is down. The caches are caches, never an authority: a read is a miss (the verifier
then checks the token itself or asks the authorization server) and a write is dropped, one warning
is logged, and the store stops asking Redis for ``backoff`` seconds so that an outage adds no
latency; an outage costs calls to the authorization server, never an allow. The replay store fails
closed instead: a proof that cannot be recorded is refused (503), and for ``backoff`` seconds after
an error proofs are refused without asking Redis. Give clients short timeouts
(``socket_timeout=0.1``, ``socket_connect_timeout=0.1``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .._extras import missing_extra as _missing_extra

try:
    import redis  # noqa: F401  (the extra; clients are duck-typed below)
except ModuleNotFoundError as error:  # redis-py is an extra: say so in one line
    hint = _missing_extra(error, "redis", "stepup_mfa.integrations.redis")
    if hint is None:
        raise
    raise hint from None

from .._core.principal import Principal
from .._observe import log_fields
from .._verify.cache import MemoryStore, Store
from .._verify.introspection import CachedAnswer
from .._verify.jwt_verifier import VerifiedToken

V = TypeVar("V")

logger = logging.getLogger("stepup_mfa")

#: Upper bound on Redis's own TTL for an entry, whatever its expiry says.
MAX_REDIS_TTL = 86_400.0
#: After a Redis error, how long a cache stops asking Redis (so an outage costs no latency).
DEFAULT_BACKOFF = 5.0
#: After a Redis error, how long the replay store refuses proofs without asking Redis.
DEFAULT_REPLAY_BACKOFF = 1.0


class RedisClient(Protocol):
    """What the stores use of a blocking client: ``redis.Redis``, ``Sentinel.master_for(...)``,
    ``redis.cluster.RedisCluster`` or anything with the same methods.

    They are redis-py's: ``get`` the key ``name``; ``set`` ``name`` to ``value``, with ``nx``
    (only if absent) and ``px`` (expiry in milliseconds); ``delete`` the keys ``names``;
    ``scan_iter`` over the keys that ``match`` a pattern, ``count`` per round trip.
    """

    def get(self, name: str) -> Any:
        """The value of the key ``name``, or ``None``."""

    def set(self, name: str, value: Any, *, nx: bool = ..., px: int | None = ...) -> Any:
        """Set ``name`` to ``value`` (``nx``: only if absent; ``px``: expiry in ms)."""

    def delete(self, *names: str) -> Any:
        """Delete the keys ``names``."""

    def scan_iter(self, match: str | None = ..., count: int | None = ...) -> Any:
        """The keys that ``match`` a pattern, fetched ``count`` per round trip."""


class AsyncRedisClient(Protocol):
    """The same methods on an asyncio client (``redis.asyncio.Redis``, its Sentinel and Cluster
    forms): each returns an awaitable, ``scan_iter`` an async iterator.

    As in :class:`RedisClient`: ``get`` the key ``name``; ``set`` ``name`` to ``value`` with ``nx``
    and ``px``; ``delete`` the keys ``names``; ``scan_iter`` the keys that ``match``, ``count`` per
    round trip.
    """

    def get(self, name: str) -> Any:
        """Awaitable: the value of the key ``name``, or ``None``."""

    def set(self, name: str, value: Any, *, nx: bool = ..., px: int | None = ...) -> Any:
        """Awaitable: set ``name`` to ``value`` (``nx``: if absent; ``px``: ms)."""

    def delete(self, *names: str) -> Any:
        """Awaitable: delete the keys ``names``."""

    def scan_iter(self, match: str | None = ..., count: int | None = ...) -> Any:
        """An async iterator over the keys that ``match``, ``count`` per trip."""


@dataclass(frozen=True, slots=True)
class Codec(Generic[V]):
    """How a value becomes JSON and back. Never pickle: Redis content must not run code.

    ``encode`` turns a value into a JSON-serialisable document; ``decode`` turns the document
    back into the value (and raises on a document it does not recognise).
    """

    encode: Callable[[V], Any]
    decode: Callable[[Any], V]


def _encode_answer(answer: CachedAnswer) -> Any:
    principal = answer.principal
    return {
        "fetched_at": answer.fetched_at,
        "claims": None if principal is None else dict(principal.claims),
        "refusal": answer.refusal,
    }


def _decode_answer(document: Any) -> CachedAnswer:
    claims = document["claims"]
    principal = None if claims is None else Principal.from_claims(claims, kind="introspection")
    return CachedAnswer(
        fetched_at=float(document["fetched_at"]),
        principal=principal,
        refusal=str(document["refusal"]),
    )


#: The codec for :class:`~stepup_mfa.IntrospectionVerifier` answers, active or not: the answer's
#: JSON as the authorization server sent it, rebuilt (and type-checked again) into a principal on
#: read; a negative answer is its refusal text alone.
INTROSPECTION_CODEC: Codec[CachedAnswer] = Codec(_encode_answer, _decode_answer)


def _encode_verified(entry: VerifiedToken) -> Any:
    return {
        "claims": dict(entry.principal.claims),
        "issuer": entry.issuer,
        "kid": entry.kid,
        "thumbprint": entry.thumbprint,
        "verified_at": entry.verified_at,
    }


def _decode_verified(document: Any) -> VerifiedToken:
    kid = document["kid"]
    return VerifiedToken(
        principal=Principal.from_claims(document["claims"], kind="jwt"),
        issuer=str(document["issuer"]),
        kid=None if kid is None else str(kid),
        thumbprint=str(document["thumbprint"]),
        verified_at=float(document["verified_at"]),
    )


#: The codec for :class:`~stepup_mfa.JWTVerifier`'s verified-token cache: the verified claims and
#: the key that verified them. A hit is re-judged by the reading verifier (its key set, its time
#: and audience rules), and keys are namespaced by its configuration (STORE-1).
JWT_CODEC: Codec[VerifiedToken] = Codec(_encode_verified, _decode_verified)


# -- written once: the key, the envelope, the expiry, the back-off ---------------------------------


@dataclass(frozen=True, slots=True)
class _Layout(Generic[V]):
    """How an entry lies in Redis, for the blocking and the asyncio stores alike."""

    codec: Codec[V]
    prefix: str
    clock: Callable[[], float]

    def key(self, key: str) -> str:
        return self.prefix + key

    def record(self, value: V, expires_at: float) -> tuple[str, int]:
        """The envelope to ``SET`` and its ``PX``. Redis's TTL is wall-clock and only bounds
        memory; expiry proper travels in the envelope and is judged in :meth:`read`."""
        ttl = min(max(expires_at - self.clock(), 1.0), MAX_REDIS_TTL)
        envelope = {"expires_at": expires_at, "value": self.codec.encode(value)}
        return json.dumps(envelope), math.ceil(ttl * 1000)

    def read(self, raw: Any, now: float) -> tuple[V, float] | None:
        """The value and its expiry, or ``None`` when absent, expired or unreadable."""
        if raw is None:
            return None
        try:
            envelope = json.loads(raw)
            expires_at = float(envelope["expires_at"])
            if now >= expires_at:
                return None
            return self.codec.decode(envelope["value"]), expires_at
        except Exception:
            # A corrupt or foreign entry is a miss, never a decision.
            logger.warning(
                "redis store: ignoring an unreadable entry",
                extra=log_fields("redis_unreadable_entry"),
            )
            return None


class _Backoff:
    """Stop asking Redis for ``seconds`` after an error, and say so once per back-off."""

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds = seconds
        self._what = what
        self._down_until = -math.inf
        self._lock = threading.Lock()

    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def failed(self, operation: str, error: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            if now < self._down_until:
                return  # another thread or task already reported this outage
            self._down_until = now + self.seconds
        logger.warning(
            "%s unavailable on %s (%s); not asked again for %.0f s",
            self._what,
            operation,
            type(error).__name__,
            self.seconds,
            extra=log_fields(
                "redis_unavailable", operation=operation, error_type=type(error).__name__
            ),
        )


# -- blocking ------------------------------------------------------------------------------------


class RedisStore(Generic[V]):
    """A :class:`~stepup_mfa._verify.cache.Store` in Redis, under ``prefix``, with a blocking
    client (:class:`RedisClient`).

    ``client`` is the Redis client, ``codec`` how values are stored (:data:`INTROSPECTION_CODEC`
    or :data:`JWT_CODEC`), ``clock`` the time source for Redis's own TTL, and ``backoff`` how
    long it stops asking Redis after an error.

    As a store: ``get`` returns the value under ``key`` unless it expired by ``now``, ``put``
    stores ``value`` under ``key`` until ``expires_at``, ``discard`` forgets ``key``; ``entry``
    also returns the entry's expiry.
    """

    def __init__(
        self,
        client: RedisClient,
        *,
        codec: Codec[V],
        prefix: str = "stepup-mfa:",
        clock: Callable[[], float] = time.time,
        backoff: float = DEFAULT_BACKOFF,
    ) -> None:
        self._client = client
        self._layout = _Layout(codec, prefix, clock)
        self._backoff = _Backoff(backoff, "redis store")

    def get(self, key: str, now: float) -> V | None:
        """The value under ``key``, or ``None`` (see :meth:`entry`; ``now`` judges it)."""
        entry = self.entry(key, now)
        return None if entry is None else entry[0]

    def entry(self, key: str, now: float) -> tuple[V, float] | None:
        """The value and its expiry, or ``None`` when absent, expired, unreadable or unreachable."""
        if not self._backoff.available():
            return None
        try:
            raw = self._client.get(self._layout.key(key))
        except Exception as error:
            self._backoff.failed("read", error)
            return None
        return self._layout.read(raw, now)

    def put(self, key: str, value: V, expires_at: float) -> None:
        """Store ``value`` under ``key`` until ``expires_at``; dropped on an error."""
        if not self._backoff.available():
            return
        data, px = self._layout.record(value, expires_at)
        try:
            self._client.set(self._layout.key(key), data, px=px)
        except Exception as error:
            self._backoff.failed("write", error)

    def discard(self, key: str) -> None:
        """Delete ``key`` from Redis (best effort: a failure is logged)."""
        if not self._backoff.available():
            return  # readers re-judge every hit, so a missed discard never allows anything
        try:
            self._client.delete(self._layout.key(key))
        except Exception as error:
            self._backoff.failed("delete", error)

    def clear(self) -> None:
        """Delete every key under this store's prefix."""
        try:
            keys = list(self._client.scan_iter(match=self._layout.prefix + "*", count=500))
            if keys:
                self._client.delete(*keys)
        except Exception as error:
            self._backoff.failed("clear", error)


class RedisReplayStore:
    """The DPoP ``jti`` replay store (:class:`~stepup_mfa.ReplayStore`) in Redis, for many workers.

    One atomic ``SET key 1 NX PX ttl`` per proof: of two workers seeing the same proof, exactly
    one records it. Unlike :class:`RedisStore` it never degrades to a miss: when Redis cannot be
    reached the error propagates and the proof is refused (503, fail closed, R9449-13); for
    ``backoff`` seconds after that, proofs are refused at once without asking Redis, so a hung
    Redis costs each worker one timeout per back-off, not one per request.

    It is called on the Guard's asyncio path too, with the blocking client: one ``SET NX`` per
    DPoP request, a loopback or LAN round trip shorter than the proof's own signature check done
    on the same loop; with ``socket_timeout=0.1`` and the back-off, an outage blocks a loop for
    at most 100 ms per ``backoff``.

    ``client`` is the blocking Redis client; each Redis key is ``prefix`` followed by the key the
    checker passes (a digest of the proof's ``jti``). ``add`` records ``key`` until ``expires_at``
    (Redis expires it ``expires_at`` minus ``now`` seconds later) and returns ``False`` when it was
    already recorded.
    """

    def __init__(
        self,
        client: RedisClient,
        *,
        prefix: str = "stepup-mfa:dpop-jti:",
        backoff: float = DEFAULT_REPLAY_BACKOFF,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._backoff = _Backoff(backoff, "redis replay store")

    def add(self, key: str, expires_at: float, now: float) -> bool:
        """Record ``key`` until ``expires_at`` (one ``SET NX PX``); ``False``: a replay."""
        if not self._backoff.available():
            raise ConnectionError("the redis replay store is backing off after an error")
        ttl_ms = max(math.ceil((expires_at - now) * 1000), 1)
        try:
            return bool(self._client.set(self._prefix + key, b"1", nx=True, px=ttl_ms))
        except Exception as error:
            self._backoff.failed("record", error)
            raise


class SharedStore(Store[V], Protocol[V]):
    """A store that can also tell an entry's expiry (so copies of it never outlive it): ``entry``
    returns the value under ``key`` and its expiry, unless it expired by ``now``."""

    def entry(self, key: str, now: float) -> tuple[V, float] | None:
        """The value under ``key`` and its expiry, or ``None`` (expired by ``now``)."""


class TieredStore(Generic[V]):
    """An in-process store in front of a shared one.

    Reads try memory first, then the shared store (copying a hit into memory, never beyond the
    entry's own expiry); writes go to both. ``local_ttl`` caps how long memory may answer without
    asking the shared store again, so that a ``discard`` in one worker reaches the others.

    ``shared`` is the shared store (a :class:`RedisStore`), ``local`` the in-process one (a
    :class:`~stepup_mfa.MemoryStore` by default).

    As a store: ``get`` returns the value under ``key`` unless it expired by ``now``, ``put``
    stores ``value`` under ``key`` until ``expires_at``, ``discard`` forgets ``key``.
    """

    def __init__(
        self, shared: SharedStore[V], *, local: Store[V] | None = None, local_ttl: float = 5.0
    ) -> None:
        self._shared = shared
        self._local: Store[V] = local if local is not None else MemoryStore()
        self._local_ttl = local_ttl

    def get(self, key: str, now: float) -> V | None:
        """The value under ``key`` at ``now``: memory first, then the shared store."""
        value = self._local.get(key, now)
        if value is not None:
            return value
        entry = self._shared.entry(key, now)
        if entry is None:
            return None
        value, expires_at = entry
        self._local.put(key, value, min(expires_at, now + self._local_ttl))
        return value

    def put(self, key: str, value: V, expires_at: float) -> None:
        """Store ``value`` under ``key`` until ``expires_at`` in both tiers."""
        self._shared.put(key, value, expires_at)
        self._local.put(key, value, expires_at)

    def discard(self, key: str) -> None:
        """Forget ``key`` in memory and in the shared store."""
        self._local.discard(key)
        self._shared.discard(key)

    def clear(self) -> None:
        """Forget every entry of both tiers."""
        self._local.clear()
        self._shared.clear()


# -- asyncio -------------------------------------------------------------------------------------


class AsyncRedisStore(Generic[V]):
    """:class:`RedisStore` with an asyncio client (:class:`AsyncRedisClient`): the same keys,
    envelope, expiry and back-off, every method a coroutine. Use it through
    :class:`AsyncTieredStore`.

    ``client``, ``codec``, ``prefix``, ``clock`` and ``backoff`` as for :class:`RedisStore`.

    As a store: ``get`` returns the value under ``key`` unless it expired by ``now``, ``put``
    stores ``value`` under ``key`` until ``expires_at``, ``discard`` forgets ``key``; ``entry``
    also returns the entry's expiry.
    """

    def __init__(
        self,
        client: AsyncRedisClient,
        *,
        codec: Codec[V],
        prefix: str = "stepup-mfa:",
        clock: Callable[[], float] = time.time,
        backoff: float = DEFAULT_BACKOFF,
    ) -> None:
        self._client = client
        self._layout = _Layout(codec, prefix, clock)
        self._backoff = _Backoff(backoff, "redis store")

    async def get(self, key: str, now: float) -> V | None:
        """The value under ``key``, or ``None`` (see :meth:`entry`; at ``now``)."""
        entry = await self.entry(key, now)
        return None if entry is None else entry[0]

    async def entry(self, key: str, now: float) -> tuple[V, float] | None:
        """The value under ``key`` and its expiry at ``now``, or ``None``."""
        if not self._backoff.available():
            return None
        try:
            raw = await self._client.get(self._layout.key(key))
        except Exception as error:
            self._backoff.failed("read", error)
            return None
        return self._layout.read(raw, now)

    async def put(self, key: str, value: V, expires_at: float) -> None:
        """Store ``value`` under ``key`` until ``expires_at``; dropped on an error."""
        if not self._backoff.available():
            return
        data, px = self._layout.record(value, expires_at)
        try:
            await self._client.set(self._layout.key(key), data, px=px)
        except Exception as error:
            self._backoff.failed("write", error)

    async def discard(self, key: str) -> None:
        """Delete ``key`` from Redis (best effort: a failure is logged)."""
        if not self._backoff.available():
            return
        try:
            await self._client.delete(self._layout.key(key))
        except Exception as error:
            self._backoff.failed("delete", error)

    async def clear(self) -> None:
        """Delete every key under this store's prefix."""
        try:
            keys = [k async for k in self._client.scan_iter(match=self._layout.prefix + "*")]
            if keys:
                await self._client.delete(*keys)
        except Exception as error:
            self._backoff.failed("clear", error)


class AsyncTieredStore(Generic[V]):
    """An in-process store in front of an :class:`AsyncRedisStore`, for asyncio servers.

    The verifiers call stores synchronously, so here ``get`` answers from memory only, and
    ``put``/``discard`` change memory at once and Redis in a task on the running loop (a write
    that cannot be scheduled, outside a loop, is dropped: it is a cache). The Redis read happens
    in :meth:`aload`, which the Guard's asyncio path awaits when memory has no answer: a hit is
    copied into memory (never beyond its own expiry, nor ``local_ttl``) and the verifier's lookup
    that follows finds it. On the blocking path this store is memory only: use
    :class:`TieredStore` there.

    ``shared`` is the :class:`AsyncRedisStore`, ``local`` the in-process store (a
    :class:`~stepup_mfa.MemoryStore` by default).

    As a store: ``get`` returns the value under ``key`` unless it expired by ``now``, ``put``
    stores ``value`` under ``key`` until ``expires_at``, ``discard`` forgets ``key``.
    """

    def __init__(
        self,
        shared: AsyncRedisStore[V],
        *,
        local: Store[V] | None = None,
        local_ttl: float = 5.0,
    ) -> None:
        self._shared = shared
        self._local: Store[V] = local if local is not None else MemoryStore()
        self._local_ttl = local_ttl
        self._tasks: set[asyncio.Task[None]] = set()

    async def aload(self, key: str, now: float) -> bool:
        """Copy ``key``'s entry from Redis into memory, unless it expired by ``now``; whether
        there was one."""
        entry = await self._shared.entry(key, now)
        if entry is None:
            return False
        value, expires_at = entry
        self._local.put(key, value, min(expires_at, now + self._local_ttl))
        return True

    def get(self, key: str, now: float) -> V | None:
        """The value under ``key`` at ``now``, from memory only (see :meth:`aload`)."""
        return self._local.get(key, now)

    def put(self, key: str, value: V, expires_at: float) -> None:
        """Store ``value`` under ``key`` until ``expires_at``: memory now, Redis in a task."""
        self._local.put(key, value, expires_at)
        self._spawn(self._shared.put(key, value, expires_at))

    def discard(self, key: str) -> None:
        """Forget ``key``: in memory now, in Redis in a task."""
        self._local.discard(key)
        self._spawn(self._shared.discard(key))

    def clear(self) -> None:
        """Forget every entry: in memory now, in Redis in a task."""
        self._local.clear()
        self._spawn(self._shared.clear())

    async def drain(self) -> None:
        """Wait for the Redis writes under way (tests, and a clean shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def _spawn(self, write: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            write.close()  # no loop in this thread: the shared write is dropped
            return
        task = loop.create_task(write)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
