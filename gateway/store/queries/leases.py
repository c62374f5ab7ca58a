"""Leases (several nodes, migration 0012): attempts claimed with `SELECT … FOR UPDATE SKIP
LOCKED`, so two nodes never claim the same row (PostgreSQL manual, SELECT, "The Locking Clause"),
and the lease (node, expiry) written on each attempt a node sends."""

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
    async def claim_due(
        self, now: float, limit: int, channels: Collection[str], *, lock: bool = True
    ) -> list[Attempt]:
        """Due attempts on these channels, most urgent first, locked for this transaction; rows
        another node holds locked are skipped, not waited for."""
        a = t.attempts.c
        query = (
            sa.select(t.attempts)
            .join(t.deliveries, t.deliveries.c.id == a.delivery_id)
            .where(
                a.closed_reason.is_(None),
                a.state.in_((D.PENDING, D.FAILED_TEMPORARY)),
                sa.or_(a.next_try_at.is_(None), a.next_try_at <= now),
                a.channel.in_(sorted(channels)),
            )
            .order_by(t.deliveries.c.priority, a.id)
            .limit(limit)
        )
        if lock:
            query = query.with_for_update(skip_locked=True, of=t.attempts)
        return [rows.attempt_from_row(r._mapping) for r in await self._run(query)]

    async def claim_lapsed(
        self, now: float, limit: int, channels: Collection[str], *, node: str, own: bool = False
    ) -> list[tuple[Attempt, str | None]]:
        """Attempts left `sending` under a lease that has expired (its node died), with the node
        that held it; `own`: this node's leases from before it restarted, expired or not."""
        a = t.attempts.c
        lapsed = (
            a.lease_node == node if own else sa.or_(a.lease_expires_at.is_(None), a.lease_expires_at <= now)
        )
        query = (
            sa.select(t.attempts)
            .where(
                a.closed_reason.is_(None),
                a.state == D.SENDING,
                a.channel.in_(sorted(channels)),
                lapsed,
            )
            .order_by(a.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [(rows.attempt_from_row(r._mapping), r.lease_node) for r in await self._run(query)]

    async def hold_leases(self, ids: Collection[int], *, node: str, until: float) -> None:
        if not ids:
            return
        await self._run(
            sa.update(t.attempts)
            .where(t.attempts.c.id.in_(sorted(ids)))
            .values(lease_node=node, lease_expires_at=until)
        )
