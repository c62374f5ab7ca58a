"""Resources (units) and their status."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from gateway.domain.models import Position, Resource
from gateway.errors import NotFound
from gateway.store import rows
from gateway.store import schema as t
from gateway.store.unit_of_work import UnitOfWork

_BY_IDS = sa.select(t.resources).where(t.resources.c.id.in_(sa.bindparam("ids", expanding=True)))


class ResourceQueries(UnitOfWork):
    async def get_resource(self, resource_id: str) -> Resource:
        row = (await self._run(sa.select(t.resources).where(t.resources.c.id == resource_id))).first()
        if row is None:
            raise NotFound("resource", resource_id)
        return rows.resource_from_row(row._mapping)

    async def list_resources(self) -> list[Resource]:
        res = await self._run(sa.select(t.resources).order_by(t.resources.c.id))
        return [rows.resource_from_row(r._mapping) for r in res]

    async def insert_resource(self, resource: Resource) -> None:
        await self.flush()
        await self.conn.execute(t.resources.insert(), rows.resource_to_row(resource))
        self._resource_changed(resource)

    async def update_resource(self, resource: Resource) -> None:
        values = rows.resource_to_row(resource)
        del values["id"]
        self._queue_update(t.resources, resource.id, values)
        self._resource_changed(resource)

    async def set_position(self, resource_id: str, position: Position) -> bool:
        """Store a unit's newest fix; False (nothing written) when the unit is unknown or already
        has one observed at the same time or later (a late copy, a digipeated repeat). One
        conditional UPDATE: two reports racing cannot put back the older one."""
        r = t.resources.c
        newer = sa.or_(r.position_at.is_(None), r.position_at < position.observed_at)
        statement = (
            t.resources.update()
            .where(r.id == resource_id, newer)
            .values(
                position_lat=position.lat,
                position_lon=position.lon,
                position_at=position.observed_at,
                position_source=position.source[:64],
            )
        )
        return (await self._run(statement)).rowcount == 1

    async def claim_position_audit(self, resource_id: str, now: float, every: float) -> bool:
        """True for at most one fix per unit every `every` seconds: that one goes in the audit
        trail (the table keeps only the last fix; the trail keeps a sparse track)."""
        r = t.resources.c
        due = sa.or_(r.position_audited_at.is_(None), r.position_audited_at <= now - every)
        statement = t.resources.update().where(r.id == resource_id, due).values(position_audited_at=now)
        return (await self._run(statement)).rowcount == 1

    def _resource_changed(self, resource: Resource) -> None:
        """Once committed, the row as written goes to the store's listeners (the directory)."""
        if not self.store.resource_listeners:
            return
        if not self._changed_resources:
            self.after_commit(self._announce_resources)
        self._changed_resources[resource.id] = resource

    def _announce_resources(self) -> None:
        for resource in self._changed_resources.values():
            for listener in self.store.resource_listeners:
                listener(resource)

    async def resources_by_ids(self, ids: Collection[str]) -> dict[str, Resource]:
        if not ids:
            return {}
        res = await self._run(_BY_IDS, {"ids": sorted(ids)})
        return {r.id: r for r in (rows.resource_from_row(row._mapping) for row in res)}
