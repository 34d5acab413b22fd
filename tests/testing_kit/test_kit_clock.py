"""FrozenClock: time moves only when the test moves it."""

from __future__ import annotations

import pytest

from stepup_mfa.testing import FrozenClock


def test_frozen_clock_returns_the_same_time_until_moved() -> None:
    clock = FrozenClock(1_700_000_000)
    assert clock() == clock() == clock.now == 1_700_000_000


@pytest.mark.parametrize(
    ("steps", "expected"), [((61,), 1_700_000_061), ((30, 0.5), 1_700_000_030.5)]
)
def test_advance_moves_forward(steps: tuple[float, ...], expected: float) -> None:
    clock = FrozenClock(1_700_000_000)
    for step in steps:
        clock.advance(step)
    assert clock() == expected


def test_advance_refuses_to_go_backwards() -> None:
    with pytest.raises(ValueError, match="forward"):
        FrozenClock(0).advance(-1)


def test_set_jumps_in_either_direction() -> None:
    clock = FrozenClock(100)
    clock.set(50)
    assert clock() == 50


def test_default_start_is_a_whole_second() -> None:
    assert FrozenClock().now.is_integer()
