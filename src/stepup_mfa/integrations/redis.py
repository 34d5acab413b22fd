"""Stores shared through Redis, for deployments with many worker processes or hosts.

With introspection, every worker that meets a new token asks the authorization server about it.
A :class:`RedisStore` lets the workers share the answers, so one call serves them all;
:class:`TieredStore` keeps a small in-process copy in front of it, so that the hot path of a token
seen before stays a memory lookup.

Redis is a cache here, never an authority: when it cannot be reached, a read is a miss (the
verifier then asks the authorization server) and a write is dropped, and the store stops asking
Redis for ``backoff`` seconds so that an outage adds no latency. An outage costs calls to the
authorization server, never an allow. Give the client short timeouts
(``socket_timeout=0.1``, ``socket_connect_timeout=0.1``): a slow Redis is on every request's
path. Entries carry their own expiry, judged against the ``now`` the caller passes, exactly as
in the in-memory store; Redis's own TTL only bounds memory.

    store = TieredStore(RedisStore(redis.Redis(), codec=INTROSPECTION_CODEC))
    verifier = IntrospectionVerifier(issuer=..., client_auth=..., store=store)

Keys are SHA-256 digests of the token *within the verifier's configuration* (issuer, audience,
client id and the claim rules that decide acceptance), so services with different settings can
share one Redis safely: an entry written under another configuration is never found.
``JWT_CODEC`` shares :class:`~stepup_mfa.JWTVerifier`'s verified-token cache the same way.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .._extras import missing_extra as _missing_extra

try:
    import redis
except ModuleNotFoundError as error:  # redis-py is an extra: say so in one line
    hint = _missing_extra(error, "redis", "stepup_mfa.integrations.redis")
    if hint is None:
        raise
    raise hint from None

from .._core.principal import Principal
from .._verify.cache import MemoryStore, Store
from .._verify.introspection import CachedAnswer
from .._verify.jwt_verifier import VerifiedToken

V = TypeVar("V")

logger = logging.getLogger("stepup_mfa")

#: Upper bound on Redis's own TTL for an entry, whatever its expiry says.
MAX_REDIS_TTL = 86_400.0
#: After a Redis error, how long the store stops asking Redis (so an outage costs no latency).
DEFAULT_BACKOFF = 5.0


@dataclass(frozen=True, slots=True)
class Codec(Generic[V]):
    """How a value becomes JSON and back. Never pickle: Redis content must not run code."""

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


#: The codec for :class:`~stepup_mfa.IntrospectionVerifier` answers: the answer's JSON as the
#: authorization server sent it, rebuilt (and type-checked again) into a principal on read.
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


class RedisStore(Generic[V]):
    """A :class:`~stepup_mfa._verify.cache.Store` in Redis, under ``prefix``."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        codec: Codec[V],
        prefix: str = "stepup-mfa:",
        clock: Callable[[], float] = time.time,
        backoff: float = DEFAULT_BACKOFF,
    ) -> None:
        self._client = client
        self._codec = codec
        self._prefix = prefix
        self._clock = clock
        self._backoff = backoff
        self._down_until = -math.inf

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, operation: str, error: redis.RedisError) -> None:
        self._down_until = time.monotonic() + self._backoff
        logger.warning(
            "redis store unavailable on %s (%s); not asked again for %.0f s",
            operation,
            type(error).__name__,
            self._backoff,
        )

    def get(self, key: str, now: float) -> V | None:
        entry = self.entry(key, now)
        return None if entry is None else entry[0]

    def entry(self, key: str, now: float) -> tuple[V, float] | None:
        """The value and its expiry, or ``None`` when absent, expired, unreadable or unreachable."""
        if not self._available():
            return None
        try:
            raw = self._client.get(self._prefix + key)
        except redis.RedisError as error:
            self._failed("read", error)
            return None
        if raw is None:
            return None
        try:
            envelope = json.loads(raw)
            expires_at = float(envelope["expires_at"])
            if now >= expires_at:
                return None
            return self._codec.decode(envelope["value"]), expires_at
        except Exception:
            # A corrupt or foreign entry is a miss, never a decision.
            logger.warning("redis store: ignoring an unreadable entry")
            return None

    def put(self, key: str, value: V, expires_at: float) -> None:
        # Redis's TTL is wall-clock; it only bounds memory. Expiry proper is judged in get().
        ttl = min(max(expires_at - self._clock(), 1.0), MAX_REDIS_TTL)
        envelope = {"expires_at": expires_at, "value": self._codec.encode(value)}
        if not self._available():
            return
        try:
            self._client.set(self._prefix + key, json.dumps(envelope), px=math.ceil(ttl * 1000))
        except redis.RedisError as error:
            self._failed("write", error)

    def discard(self, key: str) -> None:
        try:
            self._client.delete(self._prefix + key)
        except redis.RedisError as error:
            self._failed("delete", error)

    def clear(self) -> None:
        try:
            keys = list(self._client.scan_iter(match=self._prefix + "*", count=500))
            if keys:
                self._client.delete(*keys)
        except redis.RedisError as error:
            self._failed("clear", error)


class RedisReplayStore:
    """The DPoP ``jti`` replay store (:class:`~stepup_mfa.ReplayStore`) in Redis, for many workers.

    One atomic ``SET key 1 NX PX ttl`` per proof: of two workers seeing the same proof, exactly
    one records it. Unlike :class:`RedisStore` it never degrades to a miss: when Redis cannot be
    reached the error propagates and the proof is refused (fail closed, R9449-13).
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "stepup-mfa:dpop-jti:") -> None:
        self._client = client
        self._prefix = prefix

    def add(self, key: str, expires_at: float, now: float) -> bool:
        ttl_ms = max(math.ceil((expires_at - now) * 1000), 1)
        return bool(self._client.set(self._prefix + key, b"1", nx=True, px=ttl_ms))


class SharedStore(Store[V], Protocol[V]):
    """A store that can also tell an entry's expiry (so copies of it never outlive it)."""

    def entry(self, key: str, now: float) -> tuple[V, float] | None: ...


class TieredStore(Generic[V]):
    """An in-process store in front of a shared one.

    Reads try memory first, then the shared store (copying a hit into memory, never beyond the
    entry's own expiry); writes go to both. ``local_ttl`` caps how long memory may answer without
    asking the shared store again, so that a ``discard`` in one worker reaches the others.
    """

    def __init__(
        self, shared: SharedStore[V], *, local: Store[V] | None = None, local_ttl: float = 5.0
    ) -> None:
        self._shared = shared
        self._local: Store[V] = local if local is not None else MemoryStore()
        self._local_ttl = local_ttl

    def get(self, key: str, now: float) -> V | None:
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
        self._shared.put(key, value, expires_at)
        self._local.put(key, value, expires_at)

    def discard(self, key: str) -> None:
        self._local.discard(key)
        self._shared.discard(key)

    def clear(self) -> None:
        self._local.clear()
        self._shared.clear()
