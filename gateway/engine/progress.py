"""Pure decisions of the delivery engine: what a delivery does next, and its derived state.

No I/O and no clock reads: the engine applies these and writes the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adapters.base import Capabilities
from gateway.domain.models import Attempt, Delivery
from gateway.domain.states import (
    PROGRESS_RANK,
    REACHED_STATES,
    CloseReason,
    DeliveryMode,
    DeliveryOutcome,
    DeliveryState,
)


@dataclass(frozen=True, slots=True)
class Start:
    """Open attempts on these plan indexes; `skipped` were passed over because their channel is down."""

    indices: tuple[int, ...]
    skipped: tuple[int, ...] = ()
    new_round: bool = False


@dataclass(frozen=True, slots=True)
class Wait:
    reason: str


@dataclass(frozen=True, slots=True)
class Finish:
    outcome: DeliveryOutcome  # delivered, sent or exhausted


Step = Start | Wait | Finish | None


def next_step(
    delivery: Delivery,
    attempts: Sequence[Attempt],
    is_up: Callable[[str], bool],
    *,
    max_rounds: int,
) -> Step:
    """What to do once no attempt of the delivery is open (None while one still is)."""
    if delivery.completed_at is not None or any(a.closed_reason is None for a in attempts):
        return None
    if not delivery.needs_ack:
        reached = [a for a in attempts if a.state in REACHED_STATES]
        if reached:
            best = max(reached, key=lambda a: PROGRESS_RANK[a.state])
            return Finish(DeliveryOutcome(best.state.value))
    step = _from(delivery, delivery.next_endpoint, is_up)
    if step is not None:
        return step
    if delivery.round < max_rounds and delivery.plan:
        restart = _from(delivery, 0, is_up)
        if isinstance(restart, Start):
            return Start(restart.indices, restart.skipped, new_round=True)
        return restart
    return Finish(DeliveryOutcome.EXHAUSTED)


def next_endpoints(delivery: Delivery, is_up: Callable[[str], bool]) -> Start | None:
    """The endpoints a ladder would open next, while an attempt is still open (hedging)."""
    step = _from(delivery, delivery.next_endpoint, is_up)
    return step if isinstance(step, Start) else None


def _from(delivery: Delivery, first: int, is_up: Callable[[str], bool]) -> Start | Wait | None:
    remaining = range(first, len(delivery.plan))
    up = [i for i in remaining if is_up(delivery.plan[i].channel)]
    if not up:
        return Wait("every remaining channel is down") if remaining else None
    if delivery.mode is DeliveryMode.PARALLEL:
        return Start(tuple(up), tuple(i for i in remaining if i not in up))
    first_up = up[0]
    return Start((first_up,), tuple(range(first, first_up)))


def settle(state: DeliveryState, *, needs_ack: bool, caps: Capabilities) -> CloseReason | None:
    """Once a message is sent or delivered: the reason to stop tracking the attempt, or None to wait.

    A channel that confirms delivery is waited on for its receipt; a one-way channel (a pager) can
    never carry an ack, so the ladder moves on at once instead of waiting for one (issue: pagers).
    """
    if state is DeliveryState.SENT and caps.confirms_delivery:
        return None
    if not needs_ack:
        return CloseReason.DONE
    if not caps.two_way:
        return CloseReason.ONE_WAY
    return None


def derived_state(delivery: Delivery, attempts: Sequence[Attempt]) -> DeliveryState:
    """A delivery shows how far its message got on any endpoint."""
    if delivery.acknowledged_at is not None:
        return DeliveryState.ACKNOWLEDGED
    if delivery.outcome is DeliveryOutcome.CANCELLED:
        return DeliveryState.CANCELLED
    if not attempts:
        return DeliveryState.PENDING
    best = max(attempts, key=lambda a: PROGRESS_RANK[a.state])
    if PROGRESS_RANK[best.state] == 0:
        return DeliveryState.FAILED_PERMANENT if delivery.completed_at is not None else DeliveryState.PENDING
    return best.state
