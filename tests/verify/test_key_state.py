"""The JWKS key state as a table: (state, event) -> state, and (state, now) -> plan (issue 11).

``_verify/keystate.py`` is pure, so every rule of the JWKS cache (R8414-2 fail closed, R7515-4 /
K1 / K2 unknown-kid refreshes, stale-while-revalidate) is one row here, as h11 tests its state
machine, instead of a timing-dependent scenario against a server.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepup_mfa._verify.jwks import KeySet
from stepup_mfa._verify.keystate import (
    MAX_UNKNOWN_KIDS,
    Event,
    FetchFailed,
    KeysFetched,
    KeyState,
    KidPlan,
    KidUnknown,
    Plan,
    RefreshEnded,
    RefreshStarted,
    apply,
    plan_keys,
    plan_unknown_kid,
    refresh_ahead_wanted,
    refresh_due,
)

KEYS = KeySet((), {"k1": ()})
NEWER = KeySet((), {"k2": ()})
INF = math.inf

EMPTY = KeyState()
#: Loaded at 0 with a 100 s max-age and 100 s of grace.
LOADED = KeyState(key_set=KEYS, fresh_until=100, usable_until=200)


def s(base: KeyState = EMPTY, **changes: object) -> KeyState:
    from dataclasses import replace

    return replace(base, **changes)  # type: ignore[arg-type]


TRANSITIONS: list[tuple[str, KeyState, Event, KeyState]] = [
    ("count in", EMPTY, RefreshStarted(), s(refreshing=1)),
    ("count in twice", s(refreshing=1), RefreshStarted(), s(refreshing=2)),
    ("count out", s(refreshing=1), RefreshEnded(), EMPTY),
    ("never below zero", EMPTY, RefreshEnded(), EMPTY),
    (
        "K1 lead an unknown-kid refresh",
        LOADED,
        RefreshStarted(kid_cooldown_until=130),
        s(LOADED, refreshing=1, next_kid_refresh_at=130),
    ),
    (
        "first load",
        s(refreshing=1),
        KeysFetched(KEYS, now=0, lifetime=100, grace=100),
        s(LOADED, refreshing=1),  # the refresher counts out separately
    ),
    (
        "success ends the retry pause and forgets unknown kids",
        s(LOADED, retry_at=160, unknown_kids={"x": 130}),
        KeysFetched(NEWER, now=150, lifetime=100, grace=10),
        KeyState(key_set=NEWER, fresh_until=250, usable_until=260),
    ),
    (
        "R8414-2 a failure keeps the last good keys and pauses retries",
        LOADED,
        FetchFailed(now=150, retry_interval=5),
        s(LOADED, retry_at=155),
    ),
    ("a failure with no keys", EMPTY, FetchFailed(now=0, retry_interval=5), s(retry_at=5)),
    (
        "K2 remember an unknown kid",
        LOADED,
        KidUnknown("x", 130),
        s(LOADED, unknown_kids={"x": 130}),
    ),
    (
        "remembering again extends",
        s(LOADED, unknown_kids={"x": 130, "y": 131}),
        KidUnknown("x", 160),
        s(LOADED, unknown_kids={"y": 131, "x": 160}),
    ),
]


@pytest.mark.parametrize(
    ("before", "event", "after"),
    [pytest.param(b, e, a, id=name) for name, b, e, a in TRANSITIONS],
)
def test_R7515_4_key_state_transitions(before: KeyState, event: Event, after: KeyState) -> None:
    result = apply(before, event)
    assert result == after
    assert list(result.unknown_kids.items()) == list(after.unknown_kids.items())  # order too
    assert apply(before, event) == result  # pure: same input, same output
    assert before == apply(before, event) or before is not result  # the input is not changed


PLANS: list[tuple[str, KeyState, float, Plan]] = [
    ("nothing loaded", EMPTY, 0, Plan.FETCH),
    ("fresh", LOADED, 99.9, Plan.USE),
    ("max-age reached, nobody refreshing", LOADED, 100, Plan.FETCH),
    ("stale while another flow revalidates", s(LOADED, refreshing=1), 150, Plan.USE),
    ("stale inside the retry pause", s(LOADED, retry_at=160), 150, Plan.USE),
    ("past grace: fetch even while another refreshes", s(LOADED, refreshing=1), 200, Plan.FETCH),
    ("R8414-2 no keys, retry not due: fail closed", s(retry_at=5), 0, Plan.UNAVAILABLE),
    ("no keys, retry due", s(retry_at=5), 5, Plan.FETCH),
    ("past grace, retry not due", s(LOADED, retry_at=260), 250, Plan.UNAVAILABLE),
]


@pytest.mark.parametrize(
    ("state", "now", "plan"), [pytest.param(st_, n, p, id=name) for name, st_, n, p in PLANS]
)
def test_R8414_2_what_to_fetch_now(state: KeyState, now: float, plan: Plan) -> None:
    assert plan_keys(state, now) is plan


KID_PLANS: list[tuple[str, KeyState, str, float, bool, KidPlan]] = [
    ("the kid is there now", LOADED, "k1", 50, True, KidPlan.FOUND),
    ("K1 first unknown kid leads one refresh", LOADED, "x", 50, True, KidPlan.LEAD),
    ("K2 remembered", s(LOADED, unknown_kids={"x": 130}), "x", 100, True, KidPlan.REMEMBERED),
    ("remembered until", s(LOADED, unknown_kids={"x": 130}), "x", 130, True, KidPlan.LEAD),
    ("a refresh under way is joined", s(LOADED, refreshing=1), "x", 50, True, KidPlan.JOIN),
    ("joins never chain", s(LOADED, refreshing=1), "x", 50, False, KidPlan.LEAD),
    ("K2 cooldown", s(LOADED, next_kid_refresh_at=130), "x", 100, True, KidPlan.COOLDOWN),
    (
        "cooldown after a join",
        s(LOADED, refreshing=1, next_kid_refresh_at=130),
        "x",
        100,
        False,
        KidPlan.COOLDOWN,
    ),
    ("no keys at all", EMPTY, "x", 0, True, KidPlan.LEAD),
]


@pytest.mark.parametrize(
    ("state", "kid", "now", "may_join", "plan"),
    [pytest.param(a, b, c, d, e, id=name) for name, a, b, c, d, e in KID_PLANS],
)
def test_K1_K2_R7515_4_what_an_unknown_kid_may_cause(
    state: KeyState, kid: str, now: float, may_join: bool, plan: KidPlan
) -> None:
    assert plan_unknown_kid(state, kid, now, may_join) is plan


@pytest.mark.parametrize(
    ("state", "now", "ahead", "due", "wanted"),
    [
        pytest.param(LOADED, 50, 30, False, False, id="not-yet"),
        pytest.param(LOADED, 70, 30, True, True, id="inside-the-window"),
        pytest.param(s(LOADED, retry_at=80), 75, 30, True, False, id="paused-after-failure"),
        pytest.param(EMPTY, 0, 0, True, True, id="never-loaded"),
    ],
)
def test_refresh_ahead_of_expiry(
    state: KeyState, now: float, ahead: float, due: bool, wanted: bool
) -> None:
    assert refresh_due(state, now, ahead) is due
    assert refresh_ahead_wanted(state, now, ahead) is wanted


def test_K2_the_unknown_kid_memory_is_bounded_oldest_first() -> None:
    state = LOADED
    for index in range(MAX_UNKNOWN_KIDS + 5):
        state = apply(state, KidUnknown(f"kid-{index}", 1000))
    assert len(state.unknown_kids) == MAX_UNKNOWN_KIDS
    assert "kid-0" not in state.unknown_kids and f"kid-{MAX_UNKNOWN_KIDS + 4}" in state.unknown_kids


_EVENTS = st.one_of(
    st.builds(RefreshStarted, st.none() | st.floats(0, 1000)),
    st.just(RefreshEnded()),
    st.builds(
        KeysFetched,
        st.sampled_from([KEYS, NEWER]),
        st.floats(0, 1000),
        st.floats(60, 600),
        st.floats(0, 600),
    ),
    st.builds(FetchFailed, st.floats(0, 1000), st.floats(1, 60)),
    st.builds(KidUnknown, st.sampled_from(["a", "b", "c"]), st.floats(0, 1000)),
)


@given(st.lists(_EVENTS, max_size=30), st.floats(0, 2000))
def test_R8414_2_any_event_sequence_keeps_the_invariants(events: list[Event], now: float) -> None:
    """Whatever happened: the refresher count is never negative, usable never ends before fresh,
    and a plan never says USE without keys."""
    state = EMPTY
    for event in events:
        state = apply(state, event)
        assert state.refreshing >= 0
        assert state.usable_until >= state.fresh_until
        assert len(state.unknown_kids) <= MAX_UNKNOWN_KIDS
    if plan_keys(state, now) is Plan.USE:
        assert state.key_set is not None and now < state.usable_until
    assert state.retry_at < INF
