"""The JWKS key state of one issuer: an immutable value, pure transitions, pure plans.

What the verifier knows about an issuer's keys is one :class:`KeyState`. Everything that changes
it is an event (:class:`RefreshStarted`, :class:`KeysFetched`, :class:`FetchFailed`,
:class:`KidUnknown`, :class:`RefreshEnded`) applied by :func:`apply`, a pure function from
(state, event) to state, tested as a table the way h11 tests its state machine. What a flow should
do next is asked of :func:`plan_keys` and :func:`plan_unknown_kid`, pure functions of the state
and the time. No I/O, no clock, no lock: the verifier holds one state per issuer behind a lock
and replaces it whole, and its flows do the fetching.

The rules (R8414-2, R7515-4, K1, K2):

- keys are fresh until their max-age; after it they are refreshed, and while one flow refreshes
  the others keep using keys still inside their grace period (stale-while-revalidate);
- after a failed fetch no new attempt is made for ``retry_interval``; the last good keys serve
  until ``usable_until``; with none, the verifier is unavailable (fail closed, 503);
- an unknown ``kid`` triggers at most one refresh per cooldown; a flow that finds a refresh under
  way joins it instead; unknown ``kid`` s are remembered (bounded) for the cooldown;
- a successful fetch forgets every remembered unknown ``kid``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from .jwks import KeySet

#: Most unknown ``kid`` s remembered per issuer (memory stays flat under a flood, K2).
MAX_UNKNOWN_KIDS = 1024

_NO_KIDS: Mapping[str, float] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class KeyState:
    """What is known about one issuer's keys. Replace it through :func:`apply` only."""

    key_set: KeySet | None = None
    #: Refresh when ``now`` reaches this (the JWKS max-age).
    fresh_until: float = -math.inf
    #: The last good keys serve until this while fetches fail (grace).
    usable_until: float = -math.inf
    #: No new attempt before this after a failure.
    retry_at: float = -math.inf
    #: The unknown-``kid`` refresh cooldown (R7515-4, K1).
    next_kid_refresh_at: float = -math.inf
    #: Flows fetching right now (counted in by :class:`RefreshStarted`).
    refreshing: int = 0
    #: Unknown ``kid`` -> remembered until (oldest first, at most :data:`MAX_UNKNOWN_KIDS`).
    unknown_kids: Mapping[str, float] = field(default_factory=lambda: _NO_KIDS)


# -- events -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefreshStarted:
    """A flow counts itself in as a refresher. ``kid_cooldown_until`` starts the unknown-kid
    cooldown when the flow leads a refresh for an unknown ``kid``."""

    kid_cooldown_until: float | None = None


@dataclass(frozen=True, slots=True)
class RefreshEnded:
    """A counted-in refresher is done, whatever happened (response, failure, cancellation)."""


@dataclass(frozen=True, slots=True)
class KeysFetched:
    """A usable JWK Set arrived at ``now``; fresh for ``lifetime``, then ``grace`` more."""

    key_set: KeySet
    now: float
    lifetime: float
    grace: float


@dataclass(frozen=True, slots=True)
class FetchFailed:
    """A fetch (metadata or JWKS) failed at ``now``; wait ``retry_interval`` before the next."""

    now: float
    retry_interval: float


@dataclass(frozen=True, slots=True)
class KidUnknown:
    """``kid`` is not in the set and will not be looked for again before ``until``."""

    kid: str
    until: float


Event = RefreshStarted | RefreshEnded | KeysFetched | FetchFailed | KidUnknown


def apply(state: KeyState, event: Event) -> KeyState:
    """The state after ``event`` (pure)."""
    match event:
        case RefreshStarted(kid_cooldown_until=until):
            if until is None:
                return replace(state, refreshing=state.refreshing + 1)
            return replace(state, refreshing=state.refreshing + 1, next_kid_refresh_at=until)
        case RefreshEnded():
            return replace(state, refreshing=max(0, state.refreshing - 1))
        case KeysFetched(key_set=key_set, now=now, lifetime=lifetime, grace=grace):
            return replace(
                state,
                key_set=key_set,
                fresh_until=now + lifetime,
                usable_until=now + lifetime + grace,
                retry_at=-math.inf,
                unknown_kids=_NO_KIDS,
            )
        case FetchFailed(now=now, retry_interval=retry_interval):
            return replace(state, retry_at=now + retry_interval)
        case KidUnknown(kid=kid, until=until):
            kids = dict(state.unknown_kids)
            kids.pop(kid, None)
            kids[kid] = until
            while len(kids) > MAX_UNKNOWN_KIDS:
                del kids[next(iter(kids))]
            return replace(state, unknown_kids=MappingProxyType(kids))
    raise TypeError(f"not a key-state event: {event!r}")  # pragma: no cover


# -- plans --------------------------------------------------------------------------------------


class Plan(enum.Enum):
    """What a flow that needs the issuer's keys does now."""

    USE = "use"  # the current keys (fresh, or stale while another flow refreshes)
    FETCH = "fetch"  # count in (RefreshStarted) and fetch
    UNAVAILABLE = "unavailable"  # no usable keys and too soon to retry: 503


def plan_keys(state: KeyState, now: float) -> Plan:
    """:data:`Plan.USE` while fresh, or while stale-but-usable and a refresh is under way or a
    retry is not due yet; :data:`Plan.UNAVAILABLE` with no usable keys before the retry time;
    :data:`Plan.FETCH` otherwise."""
    if state.key_set is not None and now < state.fresh_until:
        return Plan.USE
    usable = state.key_set is not None and now < state.usable_until
    if usable and (state.refreshing > 0 or now < state.retry_at):
        return Plan.USE
    if not usable and now < state.retry_at:
        return Plan.UNAVAILABLE
    return Plan.FETCH


class KidPlan(enum.Enum):
    """What a flow holding a token with an unknown ``kid`` does now (R7515-4, K1, K2)."""

    FOUND = "found"  # the kid is in the set now (another flow refreshed)
    REMEMBERED = "remembered"  # known to be unknown: refuse without fetching
    JOIN = "join"  # a refresh is under way: count in and share it
    LEAD = "lead"  # start the one refresh of this cooldown
    COOLDOWN = "cooldown"  # a refresh happened recently: remember the kid, refuse


def plan_unknown_kid(state: KeyState, kid: str, now: float, may_join: bool = True) -> KidPlan:
    """The plan for ``kid``; ``may_join`` is False for a flow that already joined once (joins
    never chain: it may then lead one refresh of its own, under the cooldown)."""
    if state.key_set is not None and kid in state.key_set.by_kid:
        return KidPlan.FOUND
    remembered = state.unknown_kids.get(kid)
    if remembered is not None and now < remembered:
        return KidPlan.REMEMBERED
    if may_join and state.refreshing > 0:
        return KidPlan.JOIN
    if now < state.next_kid_refresh_at:
        return KidPlan.COOLDOWN
    return KidPlan.LEAD


def refresh_due(state: KeyState, now: float, ahead: float = 0.0) -> bool:
    """Whether the keys reach their max-age within ``ahead`` seconds."""
    return now + ahead >= state.fresh_until


def refresh_ahead_wanted(state: KeyState, now: float, ahead: float) -> bool:
    """Whether a background refresh should fetch now: due within ``ahead``, and not inside the
    pause after a failure."""
    return refresh_due(state, now, ahead) and now >= state.retry_at
