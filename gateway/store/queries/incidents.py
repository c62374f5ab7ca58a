"""Incidents: references, lookups by caller, call and serial, and the queue.

The caller's number and name live apart, in `subjects` (docs/privacy.md): every incident is read
joined with its subject row, so an `Incident` carries them as before, and written without them;
`set_personal` is the one write of personal data (on create and when the desk edits the caller).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa

from gateway.domain.models import PERSONAL_FIELDS, Incident
from gateway.errors import NotFound
from gateway.store import rows
from gateway.store import schema as t
from gateway.store.unit_of_work import UnitOfWork

OPEN_INCIDENTS = ("new", "triaged", "dispatched", "acknowledged", "on_scene")
# An incident row joined with its personal data, labelled as the Incident's fields.
INCIDENT_VIEW = sa.select(
    t.incidents,
    t.subjects.c.number.label("caller_number"),
    t.subjects.c.name.label("caller_name"),
).select_from(t.incidents.outerjoin(t.subjects, t.incidents.c.subject_id == t.subjects.c.id))
_I = t.incidents.c
_BY_IDS = INCIDENT_VIEW.where(_I.id.in_(sa.bindparam("ids", expanding=True)))
_BY_KEY = {
    (col, locked): (q.with_for_update(of=t.incidents) if locked else q)
    for col in ("id", "reference")
    for q in [INCIDENT_VIEW.where(_I[col] == sa.bindparam("key"))]
    for locked in (False, True)
}


def _stored(incident: Incident) -> dict[str, Any]:
    row = rows.incident_to_row(incident)
    for name in PERSONAL_FIELDS:
        del row[name]
    return row


class IncidentQueries(UnitOfWork):
    async def next_value(self, name: str) -> int:
        dialect = self.conn.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            ins: Any = pg_insert(t.sequences).values(name=name, value=0).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            ins = sqlite_insert(t.sequences).values(name=name, value=0).on_conflict_do_nothing()
        await self.conn.execute(ins)
        res = await self.conn.execute(
            sa.update(t.sequences)
            .where(t.sequences.c.name == name)
            .values(value=t.sequences.c.value + 1)
            .returning(t.sequences.c.value)
        )
        return int(res.scalar_one())

    async def insert_incident(self, incident: Incident) -> Incident:
        await self.set_personal(incident, write_incident=False)
        incident.id = await self._insert(t.incidents, _stored(incident))
        return incident

    async def update_incident(self, incident: Incident) -> None:
        """Queue the incident's update; its personal data changes only through `set_personal`."""
        self._queue_update(t.incidents, incident.id, _stored(incident))

    async def set_personal(self, incident: Incident, *, write_incident: bool = True) -> None:
        """Write the incident's caller number and name to its subject row (made when needed)."""
        number, name = incident.caller_number, incident.caller_name
        if incident.subject_id is not None:
            await self._run(
                sa.update(t.subjects)
                .where(t.subjects.c.id == incident.subject_id)
                .values(number=number, name=name)
            )
            return
        if number is None and name is None:
            return
        await self.flush()
        values = {"number": number, "name": name, "created_at": incident.created_at}
        res = await self.conn.execute(t.subjects.insert().returning(t.subjects.c.id), values)
        incident.subject_id = int(res.scalar_one())
        if write_incident:
            self._queue_update(t.incidents, incident.id, _stored(incident))

    async def incidents_by_ids(self, ids: Collection[int]) -> dict[int, Incident]:
        if not ids:
            return {}
        res = await self._run(_BY_IDS, {"ids": sorted(ids)})
        return {i.id: i for i in (rows.incident_from_row(r._mapping) for r in res)}

    async def get_incident(self, key: int | str, *, for_update: bool = False) -> Incident:
        col = "reference" if isinstance(key, str) else "id"
        locked = for_update and self.conn.dialect.name == "postgresql"
        row = (await self._run(_BY_KEY[col, locked], {"key": key})).first()
        if row is None:
            raise NotFound("incident", key)
        return rows.incident_from_row(row._mapping)

    async def list_incidents(
        self,
        *,
        states: Sequence[str] = (),
        priorities: Sequence[str] = (),
        categories: Sequence[str] = (),
        limit: int = 100,
        offset: int = 0,
    ) -> list[Incident]:
        q = INCIDENT_VIEW
        if states:
            q = q.where(t.incidents.c.state.in_(states))
        if priorities:
            q = q.where(t.incidents.c.priority.in_(priorities))
        if categories:
            q = q.where(t.incidents.c.category.in_(categories))
        # Untriaged first (an untriaged call may be a P1), then P1..P4, oldest first.
        q = q.order_by(t.incidents.c.priority.is_not(None), t.incidents.c.priority, t.incidents.c.created_at)
        res = await self._run(q.limit(limit).offset(offset))
        return [rows.incident_from_row(r._mapping) for r in res]

    async def incident_by_serial(self, serial: int, states: Sequence[str]) -> Incident | None:
        """The incident whose reference ends in this serial (`ACK 42` -> INC-2026-000042), among
        those in `states`, first in the queue's order (untriaged, then priority, then age)."""
        i = t.incidents.c
        q = INCIDENT_VIEW.where(i.reference.like(f"INC-%-{serial:06d}"), i.state.in_(states)).order_by(
            i.priority.is_not(None), i.priority, i.created_at
        )
        for r in await self._run(q):
            inc = rows.incident_from_row(r._mapping)
            if int(inc.reference.rsplit("-", 1)[-1]) == serial:
                return inc
        return None

    async def open_incident_for_caller(self, number: str, since: float) -> Incident | None:
        res = await self._run(
            INCIDENT_VIEW.where(
                t.subjects.c.number == number,
                t.incidents.c.created_at >= since,
                t.incidents.c.state.in_(OPEN_INCIDENTS),
            )
            .order_by(t.incidents.c.created_at.desc())
            .limit(1)
        )
        row = res.first()
        return rows.incident_from_row(row._mapping) if row else None

    async def incident_by_call_id(self, call_id: str) -> Incident | None:
        q = INCIDENT_VIEW.where(t.incidents.c.call_id == call_id).order_by(t.incidents.c.id).limit(1)
        row = (await self._run(q)).first()
        return rows.incident_from_row(row._mapping) if row else None

    async def incidents_by_caller(self, number: str, limit: int = 5) -> list[Incident]:
        res = await self._run(
            INCIDENT_VIEW.where(t.subjects.c.number == number)
            .order_by(t.incidents.c.created_at.desc())
            .limit(limit)
        )
        return [rows.incident_from_row(r._mapping) for r in res]

    async def incidents_awaiting_ack(self) -> list[Incident]:
        res = await self._run(INCIDENT_VIEW.where(t.incidents.c.state == "dispatched"))
        return [rows.incident_from_row(r._mapping) for r in res]

    async def incidents_merged_into(self, reference: str) -> list[Incident]:
        """The duplicates merged into this incident, oldest first (gateway/services/merge.py)."""
        res = await self._run(
            INCIDENT_VIEW.where(t.incidents.c.merged_into == reference).order_by(t.incidents.c.created_at)
        )
        return [rows.incident_from_row(r._mapping) for r in res]

    async def survivor_for_caller(self, number: str, since: float) -> Incident | None:
        """The open incident that this number's latest incident since `since` was merged into:
        where a repeat call from a merged duplicate's caller belongs (gateway/services/cti.py)."""
        i = t.incidents.c
        q = (
            sa.select(i.merged_into)
            .select_from(t.incidents.join(t.subjects, i.subject_id == t.subjects.c.id))
            .where(t.subjects.c.number == number, i.created_at >= since, i.merged_into.is_not(None))
            .order_by(i.created_at.desc())
            .limit(1)
        )
        ref = (await self._run(q)).scalar_one_or_none()
        if ref is None:
            return None
        survivor = await self.get_incident(ref)
        return survivor if survivor.state.value in OPEN_INCIDENTS else None
