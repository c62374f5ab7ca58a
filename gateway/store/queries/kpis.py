"""What the KPI view measures since a moment: response times, attempt outcomes, handled calls and
the contacts first-contact resolution judges."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from gateway.store import schema as t
from gateway.store.unit_of_work import UnitOfWork


class KpiQueries(UnitOfWork):
    async def incident_times_since(self, since: float) -> Sequence[sa.Row[Any]]:
        """(priority, state, created_at, dispatched_at, acknowledged_at, on_scene_at) per incident
        created since `since`: what the KPI view measures response times from."""
        i = t.incidents.c
        q = sa.select(i.priority, i.state, i.created_at, i.dispatched_at, i.acknowledged_at, i.on_scene_at)
        return (await self._run(q.where(i.created_at >= since))).all()

    async def attempt_outcomes_since(self, since: float) -> Sequence[sa.Row[Any]]:
        """(channel, state, closed_reason) of every attempt for incidents created since `since`."""
        a = t.attempts.c
        joined = t.attempts.join(t.deliveries, t.deliveries.c.id == a.delivery_id).join(
            t.incidents, t.incidents.c.id == t.deliveries.c.incident_id
        )
        q = sa.select(a.channel, a.state, a.closed_reason).select_from(joined)
        return (await self._run(q.where(t.incidents.c.created_at >= since))).all()

    async def handled_calls_since(self, since: float) -> list[SimpleNamespace]:
        """(at, desk, seconds) of every answered call that ended since `since`, repeat calls
        linked to an open incident included: the `call.ended` events that carry a handling time."""
        a = t.audit.c
        q = sa.select(a.at, a.data).where(a.kind == "call.ended", a.at >= since).order_by(a.id)
        out = []
        for r in await self._run(q):
            data = r.data or {}
            seconds = data.get("handling_seconds")
            if isinstance(seconds, int | float):
                out.append(SimpleNamespace(at=r.at, desk=data.get("desk"), seconds=float(seconds)))
        return out

    async def call_contacts_since(self, since: float) -> Sequence[sa.Row[Any]]:
        """The incidents created since `since` that began with a call or were merged into
        another, with the caller's number: what first-contact resolution judges."""
        i = t.incidents.c
        q = (
            sa.select(
                i.reference,
                i.desk,
                i.call_id,
                i.created_at,
                i.call_answered_at,
                i.call_ended_at,
                i.dispatched_at,
                i.resolved_at,
                i.cancelled_at,
                i.merged_into,
                t.subjects.c.number.label("caller_number"),
            )
            .select_from(t.incidents.outerjoin(t.subjects, i.subject_id == t.subjects.c.id))
            .where(i.created_at >= since, sa.or_(i.call_id.is_not(None), i.merged_into.is_not(None)))
        )
        return (await self._run(q)).all()

    async def linked_calls_since(self, since: float) -> Sequence[sa.Row[Any]]:
        """(reference, at) of every repeat call linked to an open incident since `since`."""
        a = t.audit.c
        q = (
            sa.select(t.incidents.c.reference, a.at)
            .select_from(t.audit.join(t.incidents, t.incidents.c.id == a.incident_id))
            .where(a.kind == "call.linked", a.at >= since)
        )
        return (await self._run(q)).all()
