"""Bounded stores for verified tokens, introspection answers and other short-lived facts.

Time is an argument: entries carry their own ``expires_at`` and every read passes ``now``, so a
test clock (or the Guard's clock) decides expiry, never the store. Stores never extend a token's
life: callers set ``expires_at`` no later than the token's ``exp``.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Generic, Protocol, TypeVar

from cachetools import FIFOCache

V = TypeVar("V")


def token_key(token: str) -> str:
    """The key under which facts about ``token`` are stored: its SHA-256 (R7662-11)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Store(Protocol[V]):
    """A key-value store with per-entry expiry, safe to share between threads."""

    def get(self, key: str, now: float) -> V | None: ...

    def put(self, key: str, value: V, expires_at: float) -> None: ...

    def discard(self, key: str) -> None: ...

    def clear(self) -> None: ...


class MemoryStore(Generic[V]):
    """In-process store, bounded to ``maxsize`` entries (the oldest written go first).

    Reads take no lock: they sit on every request's path, and a first-in-first-out cache (unlike
    an LRU one) does not reorder anything on a read. Writes take the lock.
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        self._entries: FIFOCache[str, tuple[V, float]] = FIFOCache(maxsize=maxsize)
        self._lock = threading.Lock()

    def get(self, key: str, now: float) -> V | None:
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
        with self._lock:
            self._entries[key] = (value, expires_at)

    def discard(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def keys(self) -> list[str]:
        """A snapshot of the keys (for tests and diagnostics)."""
        with self._lock:
            return list(self._entries.keys())

    def __len__(self) -> int:
        return len(self._entries)
