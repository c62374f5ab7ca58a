"""Leases (several nodes, migration 0012): the lease (node, expiry) written on each attempt a node
sends, and the attempts left `sending` under a lease that lapsed. Due work is claimed with
`due_attempts(..., skip_locked=True)` (gateway/store/queries/attempts.py). Every claim locks the
deliveries, never the attempts first: the order of every other writer (the delivery, then its
attempts), so a claim cannot deadlock with an ack or a receipt nor write back a stale attempt."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from gateway.domain.models import Attempt
from gateway.domain.states import DeliveryState
from gateway.store import rows
from gateway.store import schema as t
from gateway.store.unit_of_work import UnitOfWork

D = DeliveryState


class LeaseQueries(UnitOfWork):
    async def lease_holders(self, ids: Collection[int]) -> dict[int, str | None]:
        """The node holding each attempt's lease (None: none)."""
        if not ids:
            return {}
        a = t.attempts.c
        res = await self._run(sa.select(a.id, a.lease_node).where(a.id.in_(sorted(ids))))
        return {r.id: r.lease_node for r in res}

    async def claim_lapsed(
        self, now: float, limit: int, channels: Collection[str], *, node: str, own: bool = False
    ) -> list[tuple[Attempt, str | None]]:
        """Attempts left `sending` under a lease that has expired (its node died), with the node
        that held it; `own`: this node's leases from before it restarted, expired or not. Their
        deliveries are locked first, those another transaction holds skipped (`FOR UPDATE OF
        deliveries SKIP LOCKED`); the attempts are then read again under those locks, since an ack
        or a receipt may have changed them before the lock was taken (READ COMMITTED)."""
        a = t.attempts.c
        held = lapsed(now, node=node, own=own)
        locking = (
            sa.select(a.id)
            .join(t.deliveries, t.deliveries.c.id == a.delivery_id)
            .where(a.closed_reason.is_(None), a.state == D.SENDING, a.channel.in_(sorted(channels)), held)
            .order_by(a.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=t.deliveries)
        )
        ids = list((await self._run(locking)).scalars())
        if not ids:
            return []
        fresh = (
            sa.select(t.attempts)
            .where(a.id.in_(ids), a.closed_reason.is_(None), a.state == D.SENDING, held)
            .order_by(a.id)
        )
        return [(rows.attempt_from_row(r._mapping), r.lease_node) for r in await self._run(fresh)]

    async def hold_leases(self, ids: Collection[int], *, node: str, until: float) -> None:
        if not ids:
            return
        await self._run(
            sa.update(t.attempts)
            .where(t.attempts.c.id.in_(sorted(ids)))
            .values(lease_node=node, lease_expires_at=until)
        )


def lapsed(now: float, *, node: str, own: bool) -> sa.ColumnElement[bool]:
    a = t.attempts.c
    if own:
        return a.lease_node == node
    return sa.or_(a.lease_expires_at.is_(None), a.lease_expires_at <= now)
