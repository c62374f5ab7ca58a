"""Personal data (the subjects table): what is held about a number, erasure, and the retention
purge's candidates (docs/privacy.md). The audit trail is never edited: these queries overwrite
subject rows and the call identifiers kept on incidents, and the service appends the audit."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from gateway.domain.models import Incident
from gateway.store import rows
from gateway.store import schema as t
from gateway.store.queries.incidents import INCIDENT_VIEW
from gateway.store.unit_of_work import UnitOfWork

FINISHED = ("closed", "cancelled")
PURGE_LOCK = 15_015  # the PostgreSQL advisory lock the purge holds (one node at a time)


class PersonalQueries(UnitOfWork):
    async def subjects_with_number(self, number: str) -> list[dict[str, Any]]:
        res = await self._run(
            sa.select(t.subjects).where(t.subjects.c.number == number).order_by(t.subjects.c.id)
        )
        return [dict(r._mapping) for r in res]

    async def incidents_of_subjects(self, subject_ids: Collection[int]) -> list[Incident]:
        if not subject_ids:
            return []
        q = INCIDENT_VIEW.where(t.incidents.c.subject_id.in_(sorted(subject_ids))).order_by(t.incidents.c.id)
        return [rows.incident_from_row(r._mapping) for r in await self._run(q)]

    async def erase_subjects(self, subject_ids: Collection[int], *, at: float, why: str) -> None:
        """Overwrite the personal data: number and name gone, when and why kept."""
        if subject_ids:
            await self._run(
                sa.update(t.subjects)
                .where(t.subjects.c.id.in_(sorted(subject_ids)))
                .values(number=None, name=None, erased_at=at, erased_why=why)
            )

    async def expired_personal(
        self, now: float, days: Mapping[str, int], *, held: Sequence[str] = ()
    ) -> list[Incident]:
        """Finished incidents whose personal data outlived its retention, by classification (an
        incident never classified counts as `incident`), except those on legal hold."""
        i = t.incidents.c
        finished_at = sa.func.coalesce(i.closed_at, i.cancelled_at, i.updated_at)
        kind = sa.func.coalesce(i.classification, "incident")
        expired = sa.or_(*(sa.and_(kind == k, finished_at < now - d * 86400) for k, d in days.items()))
        q = INCIDENT_VIEW.where(i.state.in_(FINISHED), t.subjects.c.erased_at.is_(None), expired)
        if held:
            q = q.where(i.reference.not_in(list(held)))
        return [rows.incident_from_row(r._mapping) for r in await self._run(q.order_by(i.id))]

    async def expired_calls(self, now: float, days: int, *, held: Sequence[str] = ()) -> list[Incident]:
        """Finished incidents still holding a call's identifiers (call id, called number) older
        than the call-record retention."""
        i = t.incidents.c
        q = INCIDENT_VIEW.where(
            i.state.in_(FINISHED),
            sa.or_(i.call_id.is_not(None), i.called_number.is_not(None)),
            sa.func.coalesce(i.call_answered_at, i.created_at) < now - days * 86400,
        )
        if held:
            q = q.where(i.reference.not_in(list(held)))
        return [rows.incident_from_row(r._mapping) for r in await self._run(q.order_by(i.id))]

    async def take_purge_lock(self) -> bool:
        """True when this transaction may purge: on PostgreSQL the node that takes the advisory
        lock (released at commit); SQLite has one node."""
        if self.conn.dialect.name != "postgresql":
            return True
        res = await self._run(sa.select(sa.func.pg_try_advisory_xact_lock(PURGE_LOCK)))
        return bool(res.scalar_one())
