"""Bounded stores for verified tokens, introspection answers and other short-lived facts.

Time is an argument: entries carry their own ``expires_at`` and every read passes ``now``, so a
test clock (or the Guard's clock) decides expiry, never the store. Stores never extend a token's
life: callers set ``expires_at`` no later than the token's ``exp``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Generic, Protocol, TypeVar, runtime_checkable

from cachetools import FIFOCache

V = TypeVar("V")


def token_key(token: str, namespace: str = "") -> str:
    """The key under which facts about ``token`` are stored: a SHA-256 (R7662-11).

    ``namespace`` (a verifier's :func:`configuration_namespace`) goes into the digest, so that
    verifiers configured differently never read each other's entries from a shared store: a hit
    recorded under another configuration is a miss (STORE-1).
    """
    data = token.encode("utf-8", "surrogatepass")
    if namespace:
        data = namespace.encode("utf-8", "surrogatepass") + b"\n" + data
    return hashlib.sha256(data).hexdigest()


def configuration_namespace(kind: str, **settings: object) -> str:
    """A short digest of everything in a verifier's configuration that decides acceptance
    (issuer, audience, client id, algorithms, claim rules...). Values are JSON-encoded with
    sorted keys; sets and tuples as sorted lists, so equal configurations share a namespace."""

    def plain(value: object) -> object:
        if isinstance(value, frozenset | set | tuple | list):
            return sorted((plain(v) for v in value), key=repr)
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        return value

    document = json.dumps({"kind": kind, **{k: plain(v) for k, v in settings.items()}},
                          sort_keys=True, separators=(",", ":"), default=repr)  # fmt: skip
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Store(Protocol[V]):
    """A key-value store with per-entry expiry, safe to share between threads."""

    def get(self, key: str, now: float) -> V | None:
        """The value stored under ``key``, or ``None`` when there is none or it expired by
        ``now``."""

    def put(self, key: str, value: V, expires_at: float) -> None:
        """Store ``value`` under ``key`` until ``expires_at`` (seconds since the epoch)."""

    def discard(self, key: str) -> None:
        """Forget the entry under ``key``, if any."""

    def clear(self) -> None:
        """Forget every entry."""


@runtime_checkable
class LoadsAhead(Protocol):
    """A store with a shared tier read by ``await`` (``integrations.redis.AsyncTieredStore``).

    Verifiers call stores synchronously; the Guard's asyncio path awaits ``aload`` (copy ``key``'s
    entry from the shared tier into memory; whether there was one) when memory has no answer, so
    the shared tier never blocks the event loop.
    """

    async def aload(self, key: str, now: float) -> bool: ...


class MemoryStore(Generic[V]):
    """In-process store, bounded to ``maxsize`` entries (the oldest written go first).

    Reads take no lock: they sit on every request's path, and a first-in-first-out cache (unlike
    an LRU one) does not reorder anything on a read. Writes take the lock.
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        self._entries: FIFOCache[str, tuple[V, float]] = FIFOCache(maxsize=maxsize)
        self._lock = threading.Lock()

    def get(self, key: str, now: float) -> V | None:
        """The value under ``key``, or ``None`` when there is none or it expired by ``now``."""
        # One lookup, not ``FIFOCache.get`` (``in`` then ``[]``): a write evicting the key
        # between the two would raise KeyError on this lock-free read.
        try:
            entry = self._entries[key]
        except KeyError:
            return None
        if now >= entry[1]:
            self.discard(key)
            return None
        return entry[0]

    def put(self, key: str, value: V, expires_at: float) -> None:
        """Store ``value`` under ``key`` until ``expires_at``."""
        with self._lock:
            self._entries[key] = (value, expires_at)

    def discard(self, key: str) -> None:
        """Forget the entry under ``key``, if any."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def keys(self) -> list[str]:
        """A snapshot of the keys (for tests and diagnostics)."""
        with self._lock:
            return list(self._entries.keys())

    def __len__(self) -> int:
        return len(self._entries)
