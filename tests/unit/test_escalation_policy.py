"""Escalation deadlines: which levels are due, given how many already ran."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.policies.escalation import due_levels
from gateway.settings import EscalationLevel

LEVELS = [
    EscalationLevel(after=60, action="repage"),
    EscalationLevel(after=120, action="notify", target="duty-officers"),
    EscalationLevel(after=300, action="dispatch_more", count=2),
]
T0 = 1_700_000_000.0


@pytest.mark.parametrize(
    ("elapsed", "done", "expected"),
    [
        (0, 0, []),
        (59.9, 0, []),
        (60, 0, [0]),
        (61, 0, [0]),
        (61, 1, []),
        (130, 1, [1]),
        (130, 0, [0, 1]),
        (400, 0, [0, 1, 2]),
        (400, 2, [2]),
        (400, 3, []),
        (400, 7, []),
        (-5, 0, []),
    ],
)
def test_due_levels_table(elapsed: float, done: int, expected: list[int]) -> None:
    assert due_levels(LEVELS, dispatched_at=T0, now=T0 + elapsed, done=done) == expected


def test_no_levels_means_nothing_is_due() -> None:
    assert due_levels([], dispatched_at=T0, now=T0 + 10_000, done=0) == []


def test_a_level_not_yet_due_holds_back_the_ones_after_it() -> None:
    out_of_order = [EscalationLevel(after=300, action="repage"), EscalationLevel(after=60, action="repage")]
    assert due_levels(out_of_order, dispatched_at=T0, now=T0 + 100, done=0) == []
    assert due_levels(out_of_order, dispatched_at=T0, now=T0 + 300, done=0) == [0, 1]


def test_negative_done_is_refused() -> None:
    with pytest.raises(ValueError, match="done"):
        due_levels(LEVELS, dispatched_at=T0, now=T0, done=-1)


@given(
    afters=st.lists(st.floats(min_value=1, max_value=10_000), max_size=8).map(sorted),
    elapsed=st.floats(min_value=0, max_value=20_000),
    done=st.integers(min_value=0, max_value=10),
)
def test_due_levels_are_the_next_consecutive_elapsed_levels(
    afters: list[float], elapsed: float, done: int
) -> None:
    levels = [EscalationLevel(after=a, action="repage") for a in afters]
    due = due_levels(levels, dispatched_at=0.0, now=elapsed, done=done)
    assert due == list(range(done, done + len(due)))
    assert all(levels[i].after <= elapsed for i in due)
    following = done + len(due)
    if following < len(levels):
        assert levels[following].after > elapsed
