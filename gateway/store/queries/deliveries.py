"""Dispatches and deliveries: one message to one recipient, and what the engine still owes."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from gateway.domain.models import Delivery, Dispatch
from gateway.domain.states import Purpose, RecipientKind
from gateway.errors import NotFound
from gateway.store import rows
from gateway.store import schema as t
from gateway.store.queries.incidents import OPEN_INCIDENTS
from gateway.store.unit_of_work import UnitOfWork

_D = t.deliveries.c
_GET = sa.select(t.deliveries).where(_D.id == sa.bindparam("id"))
_BY_IDS = sa.select(t.deliveries).where(_D.id.in_(sa.bindparam("ids", expanding=True)))
_BY_IDS_LOCKED = _BY_IDS.order_by(_D.id).with_for_update()  # PostgreSQL: rows locked in id order


class DeliveryQueries(UnitOfWork):
    async def insert_dispatch(self, incident_id: int, *, reason: str, created_by: str) -> Dispatch:
        now = self.store.clock.now()
        dispatch_id = await self._insert(
            t.dispatches,
            {"incident_id": incident_id, "created_at": now, "reason": reason, "created_by": created_by},
        )
        return Dispatch(
            id=dispatch_id, incident_id=incident_id, created_at=now, reason=reason, created_by=created_by
        )

    async def insert_delivery(self, d: Delivery) -> Delivery:
        d.id = await self._insert(t.deliveries, rows.delivery_to_row(d))
        return d

    async def update_delivery(self, d: Delivery) -> None:
        self._queue_update(t.deliveries, d.id, rows.delivery_to_row(d))

    async def get_delivery(self, delivery_id: int) -> Delivery:
        row = (await self._run(_GET, {"id": delivery_id})).first()
        if row is None:
            raise NotFound("delivery", delivery_id)
        return rows.delivery_from_row(row._mapping)

    async def deliveries_for_incident(self, incident_id: int, *, for_update: bool = False) -> list[Delivery]:
        """`for_update`: locked in id order, as `deliveries_by_ids`, before their attempts are read
        to be changed (an ack or a stand-down racing the engine or a takeover)."""
        q = (
            sa.select(t.deliveries)
            .where(t.deliveries.c.incident_id == incident_id)
            .order_by(t.deliveries.c.id)
        )
        if for_update and self.conn.dialect.name == "postgresql":
            q = q.with_for_update()
        res = await self._run(q)
        return [rows.delivery_from_row(r._mapping) for r in res]

    async def latest_dispatch_delivery(
        self, resource_id: str, incident_id: int | None = None
    ) -> Delivery | None:
        """The newest dispatch message to a resource (the one a bare "ACK" from it refers to)."""
        q = (
            sa.select(t.deliveries)
            .join(t.incidents, t.incidents.c.id == t.deliveries.c.incident_id)
            .where(
                t.deliveries.c.recipient_kind == RecipientKind.RESOURCE,
                t.deliveries.c.recipient_id == resource_id,
                t.deliveries.c.purpose == Purpose.DISPATCH,
                t.incidents.c.state.in_(OPEN_INCIDENTS),
            )
        )
        if incident_id is not None:
            q = q.where(t.deliveries.c.incident_id == incident_id)
        row = (await self._run(q.order_by(t.deliveries.c.id.desc()).limit(1))).first()
        return rows.delivery_from_row(row._mapping) if row else None

    async def deliveries_by_ids(
        self, ids: Collection[int], *, for_update: bool = False
    ) -> dict[int, Delivery]:
        """`for_update`: on PostgreSQL the rows are locked, in id order, until the transaction ends:
        a transaction that changes a delivery's attempts holds its delivery, so two of them (a
        receipt on one channel, an ack on another) cannot each write back a stale copy of the
        other's attempt (a lost update under READ COMMITTED). SQLite has one writer anyway."""
        if not ids:
            return {}
        locked = for_update and self.conn.dialect.name == "postgresql"
        res = await self._run(_BY_IDS_LOCKED if locked else _BY_IDS, {"ids": sorted(ids)})
        return {d.id: d for d in (rows.delivery_from_row(r._mapping) for r in res)}

    async def stalled_deliveries(self) -> list[Delivery]:
        """Open deliveries with no open attempt: the next step has not been taken yet."""
        open_attempt = (
            sa.select(t.attempts.c.id)
            .where(t.attempts.c.delivery_id == t.deliveries.c.id, t.attempts.c.closed_reason.is_(None))
            .exists()
        )
        res = await self._run(
            sa.select(t.deliveries).where(t.deliveries.c.completed_at.is_(None), ~open_attempt)
        )
        return [rows.delivery_from_row(r._mapping) for r in res]
