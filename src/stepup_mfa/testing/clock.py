"""A clock the test controls.

The library reads time only through the ``clock`` callable given to the ``Guard`` (and the
development server takes one too), so a test can step past an MFA window without sleeping.
"""

from __future__ import annotations

import threading
import time


class FrozenClock:
    """A callable returning a time that moves only when the test moves it.

    ``FrozenClock()`` starts at the current wall-clock second, so tokens minted with it are also
    valid for tools that read the real clock; pass ``start`` for fully reproducible tests.
    """

    __slots__ = ("_lock", "_now")

    def __init__(self, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._now = float(int(time.time()) if start is None else start)

    def __call__(self) -> float:
        with self._lock:
            return self._now

    @property
    def now(self) -> float:
        """The current frozen time (seconds since the epoch)."""
        return self()

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError("a FrozenClock only moves forward with advance(); use set()")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, t: float) -> None:
        """Jump to ``t``, forwards or backwards (to test clock skew)."""
        with self._lock:
            self._now = float(t)

    def __repr__(self) -> str:
        return f"FrozenClock({self():.3f})"
