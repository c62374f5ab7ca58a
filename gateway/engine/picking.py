"""Picking due attempts to send: the one way, for one node (the engine's cycle) and for several
nodes (gateway/cluster/leases.py, which claims under leases).

The caller finds candidates (`Tx.due_attempts`); here their deliveries are locked in id order and
the attempts read again under those locks, since an ack may have closed one meanwhile (a
transaction that changes a delivery's attempts holds its delivery first: no stale write-back).
Each still due attempt passes the engine's last check (`ready`: a channel down moves on, a rate
limit holds) and is marked `sending`, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway.domain.models import Attempt, Delivery
from gateway.domain.states import DeliveryState
from gateway.engine import ledger
from gateway.store import Tx

D = DeliveryState
Job = tuple[Attempt, Delivery, str]  # the attempt, its delivery, the incident's reference
Ready = Callable[[Tx, Delivery, Attempt, float], Awaitable[bool]]


async def mark_sending(tx: Tx, found: list[Attempt], now: float, *, ready: Ready) -> list[Job]:
    """Lock the deliveries of `found`, read the attempts again, and mark those still due `sending`."""
    deliveries = await tx.deliveries_by_ids({a.delivery_id for a in found}, for_update=True)
    fresh = {a.id: a for a in await tx.attempts_by_ids([a.id for a in found])}
    due = [fresh[a.id] for a in found if a.id in fresh and still_due(fresh[a.id], now)]
    await tx.preload_references({d.incident_id for d in deliveries.values()})
    jobs: list[Job] = []
    for a in due:
        d = deliveries[a.delivery_id]
        if await ready(tx, d, a, now):
            await ledger.move_attempt(tx, d, a, D.SENDING, now=now)
            jobs.append((a, d, await tx.reference_of(d.incident_id)))
    return jobs


def still_due(a: Attempt, now: float) -> bool:
    return (
        a.closed_reason is None
        and a.state in (D.PENDING, D.FAILED_TEMPORARY)
        and (a.next_try_at is None or a.next_try_at <= now)
    )
