"""TOTP (RFC 6238) checking with the two rules pyotp leaves to the caller.

1. A tolerance of one time-step either side (``valid_window=1``), for clock drift and for a code
   typed just as it rolled over.
2. Replay refusal: RFC 6238 §5.2 says the verifier MUST NOT accept the second attempt of an OTP
   after a successful validation. We keep the last accepted time-step per user and refuse any
   code from that step or an earlier one, so a code seen over a shoulder (or in a log) is useless
   once used, even while it is still inside its window.
"""

from __future__ import annotations

import enum
import threading

import pyotp

#: RFC 6238 defaults, which every authenticator app understands.
TOTP_PERIOD = 30
TOTP_DIGITS = 6
VALID_WINDOW = 1


class TotpResult(enum.Enum):
    ACCEPTED = "accepted"
    INVALID = "invalid"
    REPLAYED = "replayed"


class TotpVerifier:
    """Checks codes against per-user secrets and remembers the last accepted step per user."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_step: dict[str, int] = {}

    def check(self, username: str, secret: str, code: str, now: float) -> TotpResult:
        """Whether ``code`` is a fresh, valid code for ``secret`` at time ``now``."""
        code = code.strip().replace(" ", "")
        if len(code) != TOTP_DIGITS or not code.isdigit():
            return TotpResult.INVALID
        totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
        current = int(now) // TOTP_PERIOD
        matched: int | None = None
        # Check every candidate step (no early exit), comparing in constant time.
        for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
            if pyotp.utils.strings_equal(str(totp.generate_otp(step)), code):
                matched = step
        if matched is None:
            return TotpResult.INVALID
        with self._lock:
            if matched <= self._last_step.get(username, -1):
                return TotpResult.REPLAYED
            self._last_step[username] = matched
        return TotpResult.ACCEPTED

    def fresh_code(self, username: str, secret: str, now: float) -> str:
        """A code the verifier will accept now: the current step's, or the next step's when the
        current one was already used (the window allows one step ahead).

        For scripts and demos that log in with TOTP twice within 30 seconds; raises
        :class:`RuntimeError` when both were used (wait for the next step).
        """
        totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
        current = int(now) // TOTP_PERIOD
        with self._lock:
            last = self._last_step.get(username, -1)
        for step in range(current, current + VALID_WINDOW + 1):
            if step > last:
                return str(totp.generate_otp(step))
        raise RuntimeError("no unused TOTP code in the current window; wait for the next step")


def provisioning_uri(secret: str, username: str, issuer_name: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app enrols from (as a QR code)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(
        name=username, issuer_name=issuer_name
    )
