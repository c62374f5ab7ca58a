"""Delivery reports from the network applied to their attempt: delivered, or failed for good
(the ladder moves on); a report for an attempt already closed is recorded as late, nothing more.
Evidence a channel learns later (`AttemptEvidence`: a voice call's talk time) is added to the
attempt whatever its state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.base import AttemptEvidence, Capabilities, DeliveryReport
from gateway.domain.models import Attempt, Delivery
from gateway.domain.states import CloseReason, DeliveryState
from gateway.engine import ledger
from gateway.engine.progress import settle
from gateway.store import Tx

if TYPE_CHECKING:
    from gateway.engine.engine import DeliveryEngine

D = DeliveryState
Report = DeliveryReport | AttemptEvidence


async def apply_report(
    tx: Tx,
    d: Delivery,
    a: Attempt,
    r: DeliveryReport,
    *,
    caps: Capabilities | None,
    attempts: list[Attempt],
    now: float,
    engine: DeliveryEngine,
) -> None:
    ev = {**r.evidence, "channel_ref": r.channel_ref}
    if a.closed_reason is not None or a.state is not D.SENT:
        await tx.record(
            "attempt.late_report",
            incident_id=d.incident_id,
            delivery_id=d.id,
            attempt_id=a.id,
            data={"attempt": a.id, "delivered": r.delivered, "state": a.state.value, "evidence": ev},
        )
        return
    if r.delivered:
        a.delivered_at = now
        close = settle(D.DELIVERED, needs_ack=d.needs_ack, caps=caps) if caps else None
        await ledger.move_attempt(tx, d, a, D.DELIVERED, now=now, evidence=ev, close=close)
    else:
        engine.metrics.fallbacks.labels(a.channel, "report_failed").inc()
        await ledger.move_attempt(
            tx,
            d,
            a,
            D.FAILED_PERMANENT,
            now=now,
            evidence=ev,
            close=CloseReason.FAILED,
            reason=r.reason or "network reported failure",
        )
    await engine.advance(tx, d, await ledger.refresh(tx, d, now=now, attempts=attempts))


async def add_evidence(tx: Tx, d: Delivery, a: Attempt, r: AttemptEvidence, *, now: float) -> None:
    """Merge what the channel learnt after `sent` into the attempt and audit it; no state moves
    (an acknowledged call's talk time arrives after its ack, an unanswered prompt's with no ack)."""
    a.evidence = {**a.evidence, **r.evidence}
    await tx.update_attempt(a)
    await tx.record(
        "attempt.evidence",
        incident_id=d.incident_id,
        delivery_id=d.id,
        attempt_id=a.id,
        at=now,
        data={"attempt": a.id, "channel": a.channel, "state": a.state.value, "evidence": r.evidence},
    )
