"""Which escalation levels are due for an unacknowledged dispatch."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.settings import EscalationLevel


def due_levels(
    levels: Sequence[EscalationLevel], *, dispatched_at: float, now: float, done: int
) -> list[int]:
    """Indexes of the levels to run now, in order.

    `done` levels (indexes 0 .. done-1) have already run. A level is due once `after` seconds
    have passed since `dispatched_at` (at exactly `after` it is due). Levels run in sequence, so
    the answer stops at the first level that is not yet due, even if a later one (with a smaller
    `after`, which settings validation forbids) would be: a caller that advances `done` by the
    answer's length never skips a level.
    """
    if done < 0:
        raise ValueError(f"done must be >= 0, got {done}")
    elapsed = now - dispatched_at
    due: list[int] = []
    for index in range(done, len(levels)):
        if elapsed < levels[index].after:
            break
        due.append(index)
    return due
