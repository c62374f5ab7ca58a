"""What the KPI view measures: response times and attempt outcomes since a moment."""

from __future__ import annotations

from collections.abc import Sequence
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

    async def handling_times_since(self, since: float) -> Sequence[sa.Row[Any]]:
        """(desk, call_answered_at, call_ended_at) of every answered call that has ended, for
        incidents created since `since`: what average handling time is measured from."""
        i = t.incidents.c
        q = sa.select(i.desk, i.call_answered_at, i.call_ended_at).where(
            i.created_at >= since, i.call_answered_at.is_not(None), i.call_ended_at.is_not(None)
        )
        return (await self._run(q)).all()
