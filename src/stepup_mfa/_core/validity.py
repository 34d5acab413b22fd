"""When a verified token is valid, and for whom: one rule for every verifier.

Fresh JWT verification, verified-token cache hits and introspection answers (live or cached) all
judge time and audience here, so the copies cannot drift. Pure: ``now`` is an argument.

- Time (R7519-2, R9068-7, R7662-7, T1, T3, T4, OIDC-4, S5): reject at or after ``exp``, before
  ``nbf``, an ``iat`` or ``auth_time`` in the future; each allows ``leeway`` seconds of clock skew
  (at most :data:`MAX_LEEWAY`). One deliberate difference, named by ``stretch_exp``: the ``exp`` of
  an *introspection* answer is the authorization server's own statement about an answer it gave
  at ``fetched_at``, and a cached answer is never used past it (R7662-7, R7662-9: ``exp=now-10``
  refuses whatever the leeway). A JWT's ``exp`` gets the leeway (R9068-7).
- NumericDates are finite numbers within years 0-9999 (R7519-5, T2); anything else is malformed.
- Freshness (OIDC-3, OIDC-4): an ``auth_time`` ahead of our clock (within leeway) counts as the
  moment we first verified the token, never later, so leeway never stretches a ``max_age``
  window (:func:`settle_auth_time`, :func:`~stepup_mfa._core.decision.is_fresh`).
- Audience (R9068-5, R7519-1, R7662-7, C3, T7): exact string match against our identifiers.

Also the one home of the "seconds" configuration checks shared by policies and verifiers.
"""

from __future__ import annotations

import dataclasses
import math

from .errors import ConfigurationError, InvalidToken
from .principal import Principal

#: R9068-7: clock-skew leeway of "a few minutes at most".
MAX_LEEWAY = 300.0
#: The largest NumericDate accepted: 9999-12-31T23:59:59Z (R7519-5, T2).
MAX_NUMERIC_DATE = 253_402_300_799
_MIN_NUMERIC_DATE = -MAX_NUMERIC_DATE

MALFORMED = "Malformed access token"
EXPIRED = "The access token expired"
NOT_YET_VALID = "The access token is not valid yet"
ISSUED_IN_FUTURE = "The access token was issued in the future"
FUTURE_AUTH_TIME = "The access token has an authentication time in the future"
WRONG_AUDIENCE = "The access token is not intended for this resource"


def check_times(
    principal: Principal, now: float, leeway: float, *, stretch_exp: bool = True
) -> None:
    """Raise :class:`InvalidToken` unless ``principal``'s dates make it valid at ``now``.

    ``leeway`` forgives clock skew on ``nbf``, ``iat`` and ``auth_time``, and on ``exp`` when
    ``stretch_exp`` (JWTs; introspection answers pass False, see the module docstring).
    """
    # R7519-5, T2: each NumericDate lies within years 0-9999; beyond is malformed, whatever the
    # claim. One chained comparison per claim on the passing path: this runs on every cache hit.
    latest = now + leeway
    low, high = _MIN_NUMERIC_DATE, MAX_NUMERIC_DATE
    expires_at = principal.expires_at
    # R9068-7, R7519-2, T1: reject at or after exp (+ leeway).
    if expires_at is not None and not ((now - leeway if stretch_exp else now) < expires_at <= high):
        raise InvalidToken(EXPIRED if _in_range(expires_at) else MALFORMED)
    not_before = principal.not_before
    if not_before is not None and not low <= not_before <= latest:  # R7519-2, T3
        raise InvalidToken(NOT_YET_VALID if _in_range(not_before) else MALFORMED)
    issued_at = principal.issued_at
    if issued_at is not None and not low <= issued_at <= latest:  # T4
        raise InvalidToken(ISSUED_IN_FUTURE if _in_range(issued_at) else MALFORMED)
    auth_time = principal.auth_time
    if auth_time is not None and not low <= auth_time <= latest:  # OIDC-4, S5
        raise InvalidToken(FUTURE_AUTH_TIME if _in_range(auth_time) else MALFORMED)


def _in_range(date: float) -> bool:
    return _MIN_NUMERIC_DATE <= date <= MAX_NUMERIC_DATE


def settle_auth_time(principal: Principal, verified_at: float) -> Principal:
    """``principal`` with an ``auth_time`` ahead of ``verified_at`` moved back to it (OIDC-4).

    An ``auth_time`` slightly in the future is the authorization server's clock running ahead of
    ours; the authentication happened no later than the moment we verified the token. Without
    this, a 60 s window with 59 s of skew stays open for 119 s.
    """
    auth_time = principal.auth_time
    if auth_time is None or auth_time <= verified_at:
        return principal
    return dataclasses.replace(principal, auth_time=verified_at)


def audience_accepted(
    audience: tuple[str, ...], accepted: frozenset[str], *, required: bool = True
) -> bool:
    """Whether a token's ``aud`` names one of ``accepted``, compared exactly (R9068-5, T7).

    ``required=False`` (introspection, R7662-7) lets an answer without ``aud`` pass; an ``aud``
    that is present must still name us. An empty ``accepted`` set checks nothing.
    """
    if not accepted:
        return True
    if not audience:
        return not required
    return not accepted.isdisjoint(audience)


def check_audience(
    principal: Principal, accepted: frozenset[str], *, required: bool = True
) -> None:
    """Raise :class:`InvalidToken` unless :func:`audience_accepted`."""
    if not audience_accepted(principal.audience, accepted, required=required):
        raise InvalidToken(WRONG_AUDIENCE)


def seconds_option(
    name: str,
    value: object,
    *,
    upper: float = math.inf,
    positive: bool = False,
    whole: bool = False,
) -> float:
    """A configured duration: a finite number of seconds in ``[0, upper]`` (``(0, upper]`` when
    ``positive``), an ``int`` when ``whole`` (R9470-4, S10: not -1, not 1.5, not "60s", not True).

    Raises :class:`ConfigurationError`, at start-up.
    """
    if whole:
        ok = type(value) is int
    else:
        ok = not isinstance(value, bool) and isinstance(value, int | float)
    number = math.nan
    if ok:
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:  # an int beyond the float range
            ok = False
    in_range = (0 < number if positive else 0 <= number) and number <= upper
    if not (ok and math.isfinite(number) and in_range):
        kind = "whole number" if whole else "number"
        sign = "positive" if positive else "non-negative"
        bound = "" if upper == math.inf else f" of at most {upper:g}"
        raise ConfigurationError(f"{name} must be a {sign} {kind} of seconds{bound}")
    return number


def leeway_option(value: object, name: str = "leeway") -> float:
    """The clock-skew leeway: 0 to :data:`MAX_LEEWAY` seconds (R9068-7)."""
    return seconds_option(name, value, upper=MAX_LEEWAY)
