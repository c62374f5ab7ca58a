"""The append-only audit trail and the cached incident references it is published with."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from gateway.domain.models import Incident
from gateway.store import schema as t
from gateway.store.unit_of_work import UnitOfWork


class AuditQueries(UnitOfWork):
    async def record(
        self,
        kind: str,
        *,
        incident: Incident | None = None,
        incident_id: int | None = None,
        delivery_id: int | None = None,
        attempt_id: int | None = None,
        actor: str = "system",
        data: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> None:
        """Append to the audit trail (queued; written with the transaction) and publish the event
        on the bus once the transaction commits."""
        when = self.store.clock.now() if at is None else at
        payload = dict(data or {})
        ref: str | None = None
        if incident is not None:
            incident_id, ref = incident.id, incident.reference
        elif incident_id is not None:
            ref = await self.reference_of(incident_id)
        row = {
            "at": when,
            "kind": kind,
            "actor": actor,
            "incident_id": incident_id,
            "delivery_id": delivery_id,
            "attempt_id": attempt_id,
            "data": payload,
        }
        self._audit.append((row, ref))

    async def reference_of(self, incident_id: int) -> str:
        """An incident's reference; references never change, so the store caches them."""
        ref = self.store.references.get(incident_id)
        if ref is None:
            ref = (
                await self._run(sa.select(t.incidents.c.reference).where(t.incidents.c.id == incident_id))
            ).scalar_one()
            self.store.references[incident_id] = ref
        return ref

    async def preload_references(self, incident_ids: Collection[int]) -> None:
        missing = sorted(set(incident_ids) - self.store.references.keys())
        if missing:
            res = await self._run(
                sa.select(t.incidents.c.id, t.incidents.c.reference).where(t.incidents.c.id.in_(missing))
            )
            self.store.references.update({r._mapping["id"]: r._mapping["reference"] for r in res})

    async def audit_for_incident(self, incident_id: int) -> list[dict[str, Any]]:
        res = await self._run(
            sa.select(t.audit).where(t.audit.c.incident_id == incident_id).order_by(t.audit.c.id)
        )
        return [dict(r._mapping) for r in res]

    async def audit_since(self, after_id: int, limit: int = 500) -> list[dict[str, Any]]:
        res = await self._run(
            sa.select(t.audit, t.incidents.c.reference)
            .select_from(t.audit.outerjoin(t.incidents, t.audit.c.incident_id == t.incidents.c.id))
            .where(t.audit.c.id > after_id)
            .order_by(t.audit.c.id)
            .limit(limit)
        )
        return [dict(r._mapping) for r in res]

    async def audit_of_kinds(self, kinds: Collection[str]) -> list[dict[str, Any]]:
        """Every audit event of these kinds, oldest first (e.g. maintenance windows at start)."""
        query = sa.select(t.audit).where(t.audit.c.kind.in_(list(kinds))).order_by(t.audit.c.id)
        res = await self._run(query)
        return [dict(r._mapping) for r in res]
