"""The one place where attempts and deliveries change state. Every change writes an audit event
carrying the channel's evidence, in the caller's transaction (docs/style.md, practice 6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.domain.models import Attempt, Delivery
from gateway.domain.states import (
    ENDED_EARLY,
    REACHED_STATES,
    CloseReason,
    DeliveryOutcome,
    DeliveryState,
    check_attempt_transition,
)
from gateway.engine.progress import Finish, Start, Step, Wait, derived_state, next_step
from gateway.store import Tx

D = DeliveryState
# A delivery that ended with one of these is not ended again (a late stand-down, a second close).
FINAL_OUTCOMES = ENDED_EARLY | {DeliveryOutcome.ACKNOWLEDGED}


def _attempt_data(a: Attempt, **extra: Any) -> dict[str, Any]:
    return {
        "delivery": a.delivery_id,
        "attempt": a.id,
        "channel": a.channel,
        "address": a.address,
        "endpoint": a.endpoint_index,
        "tries": a.tries,
        **extra,
    }


async def move_attempt(
    tx: Tx,
    d: Delivery,
    a: Attempt,
    target: DeliveryState,
    *,
    now: float,
    reason: str | None = None,
    evidence: dict[str, Any] | None = None,
    close: CloseReason | None = None,
    actor: str = "system",
) -> None:
    check_attempt_transition(a.id, a.state, target)
    a.state = target
    a.updated_at = now
    if evidence:
        a.evidence = {**a.evidence, **evidence}
    if close is not None:
        a.closed_reason = close
    await tx.update_attempt(a)
    await tx.record(
        f"attempt.{target.value}",
        incident_id=d.incident_id,
        delivery_id=d.id,
        attempt_id=a.id,
        at=now,
        actor=actor,
        data=_attempt_data(a, reason=reason, evidence=evidence or {}, closed=close),
    )


async def close_attempt(tx: Tx, d: Delivery, a: Attempt, reason: CloseReason, *, now: float) -> None:
    """Stop tracking an attempt whose message got where it could (ack timeout, one-way, done)."""
    a.closed_reason = reason
    a.updated_at = now
    await tx.update_attempt(a)
    await tx.record(
        "attempt.closed",
        incident_id=d.incident_id,
        delivery_id=d.id,
        attempt_id=a.id,
        at=now,
        data=_attempt_data(a, state=a.state.value, reason=reason),
    )


async def refresh(
    tx: Tx, d: Delivery, *, now: float, attempts: list[Attempt] | None = None, actor: str = "system"
) -> list[Attempt]:
    """Recompute the delivery's state from its attempts; audit when it changes."""
    if attempts is None:
        attempts = await tx.attempts_for([d.id])
    new = derived_state(d, attempts)
    changed = new is not d.state
    d.state = new
    d.updated_at = now
    await tx.update_delivery(d)
    if changed:
        await tx.record(
            f"delivery.{new.value}",
            incident_id=d.incident_id,
            delivery_id=d.id,
            at=now,
            actor=actor,
            data={
                "delivery": d.id,
                "recipient": d.recipient_id,
                "purpose": d.purpose.value,
                "outcome": d.outcome,
            },
        )
    return attempts


async def advance(
    tx: Tx,
    d: Delivery,
    *,
    is_up: Callable[[str], bool],
    max_rounds: int,
    now: float,
    attempts: list[Attempt] | None = None,
) -> Step:
    """Take the delivery's next step along its contact plan, if it has one to take."""
    if attempts is None:
        attempts = await tx.attempts_for([d.id])
    step = next_step(d, attempts, is_up, max_rounds=max_rounds)
    if isinstance(step, Start):
        await start(tx, d, step, attempts, now=now)
    elif isinstance(step, Finish):
        d.completed_at = now
        d.outcome = step.outcome
        await tx.record(
            f"delivery.{'exhausted' if step.outcome is DeliveryOutcome.EXHAUSTED else 'completed'}",
            incident_id=d.incident_id,
            delivery_id=d.id,
            at=now,
            data={
                "delivery": d.id,
                "recipient": d.recipient_id,
                "outcome": step.outcome,
                "purpose": d.purpose.value,
            },
        )
    if step is not None and not isinstance(step, Wait):
        await refresh(tx, d, now=now, attempts=attempts)
    return step


async def start(tx: Tx, d: Delivery, step: Start, attempts: list[Attempt], *, now: float) -> None:
    """Open the endpoints a step starts (recording a new round and the endpoints it skipped)."""
    if step.new_round:
        d.round += 1
        await tx.record(
            "delivery.new_round",
            incident_id=d.incident_id,
            delivery_id=d.id,
            at=now,
            data={"delivery": d.id, "round": d.round},
        )
    for i in step.skipped:
        ep = d.plan[i]
        await tx.record(
            "delivery.skipped",
            incident_id=d.incident_id,
            delivery_id=d.id,
            at=now,
            data={
                "delivery": d.id,
                "channel": ep.channel,
                "address": ep.address,
                "endpoint": i,
                "reason": "channel down",
            },
        )
    for i in step.indices:
        attempts.append(await open_attempt(tx, d, i, now=now))
    d.next_endpoint = max(step.indices) + 1


async def open_attempt(tx: Tx, d: Delivery, index: int, *, now: float) -> Attempt:
    ep = d.plan[index]
    a = await tx.insert_attempt(
        Attempt(
            id=0,
            delivery_id=d.id,
            endpoint_index=index,
            channel=ep.channel,
            address=ep.address,
            state=D.PENDING,
            tries=0,
            created_at=now,
            updated_at=now,
        )
    )
    await tx.record(
        "attempt.pending",
        incident_id=d.incident_id,
        delivery_id=d.id,
        attempt_id=a.id,
        at=now,
        data=_attempt_data(a),
    )
    return a


async def _close_open(
    tx: Tx, d: Delivery, attempts: list[Attempt], *, now: float, reason: CloseReason, keep: int | None = None
) -> None:
    for a in attempts:
        if a.closed_reason is not None or a.id == keep:
            continue
        if a.state in (D.PENDING, D.FAILED_TEMPORARY):
            await move_attempt(tx, d, a, D.CANCELLED, now=now, reason=reason, close=reason)
        else:
            await close_attempt(tx, d, a, reason, now=now)


async def acknowledge(
    tx: Tx,
    d: Delivery,
    *,
    now: float,
    via: tuple[str, str] | None,
    evidence: dict[str, Any],
    actor: str,
    attempts: list[Attempt] | None = None,
) -> bool:
    """Record an acknowledgement; False if the delivery was already acknowledged or cancelled.

    `via` is the (channel, address) it came through, so the attempt that reached the person is
    marked acknowledged; an ack from another path (desk, DTMF on a callback) still counts.
    `attempts`: the delivery's attempts when the caller loaded them already (batches).
    """
    if d.acknowledged_at is not None or d.outcome is DeliveryOutcome.CANCELLED:
        await tx.record(
            "delivery.duplicate_ack",
            incident_id=d.incident_id,
            delivery_id=d.id,
            at=now,
            actor=actor,
            data={"delivery": d.id, "recipient": d.recipient_id, "evidence": evidence},
        )
        return False
    if attempts is None:
        attempts = await tx.attempts_for([d.id])
    acked: Attempt | None = None
    if via is not None:
        for a in attempts:
            if (a.channel, a.address) == via and a.state in REACHED_STATES:
                acked = a
    if acked is not None and acked.state is not D.ACKNOWLEDGED:
        await move_attempt(
            tx,
            d,
            acked,
            D.ACKNOWLEDGED,
            now=now,
            evidence=evidence,
            close=CloseReason.ACKNOWLEDGED,
            actor=actor,
        )
    await _close_open(
        tx, d, attempts, now=now, reason=CloseReason.ACKNOWLEDGED, keep=acked.id if acked else None
    )
    d.acknowledged_at = now
    d.ack_evidence = {**evidence, "actor": actor}
    d.completed_at = d.completed_at or now
    d.outcome = DeliveryOutcome.ACKNOWLEDGED
    await refresh(tx, d, now=now, actor=actor, attempts=attempts)
    return True


async def finish(tx: Tx, d: Delivery, outcome: DeliveryOutcome, *, now: float, reason: CloseReason) -> None:
    """End a delivery early: cancelled (stand-down, incident closed) or declined by the recipient."""
    if d.completed_at is not None and d.outcome in FINAL_OUTCOMES:
        return
    attempts = await tx.attempts_for([d.id])
    await _close_open(tx, d, attempts, now=now, reason=reason)
    d.completed_at = now
    d.outcome = outcome
    await tx.record(
        f"delivery.{outcome}",
        incident_id=d.incident_id,
        delivery_id=d.id,
        at=now,
        data={"delivery": d.id, "recipient": d.recipient_id, "reason": reason},
    )
    await refresh(tx, d, now=now, attempts=attempts)
