"""Stakeholder updates sent (the stage, the group, their dispatch) and the callers' satisfaction
surveys (gateway/services/updates.py, gateway/services/survey.py)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from gateway.domain.models import Incident, Survey
from gateway.domain.states import OPEN_INCIDENT_STATES, Priority
from gateway.store import rows
from gateway.store import schema as t
from gateway.store.queries.incidents import INCIDENT_VIEW
from gateway.store.unit_of_work import UnitOfWork

_SURVEY_COLUMNS = [c.name for c in t.surveys.columns]


def _survey(row: Any) -> Survey:
    m = row._mapping
    return Survey(**{k: m[k] for k in _SURVEY_COLUMNS})


class SurveyQueries(UnitOfWork):
    # ---- stakeholder updates ------------------------------------------------------------------
    async def insert_update(
        self, incident_id: int, group: str, stage: str, *, at: float, dispatch_id: int, recipients: int
    ) -> None:
        await self._run(
            sa.insert(t.stakeholder_updates).values(
                incident_id=incident_id,
                group_name=group,
                stage=stage,
                at=at,
                dispatch_id=dispatch_id,
                recipients=recipients,
            )
        )

    async def updates_for_incident(self, incident_id: int) -> list[dict[str, Any]]:
        u = t.stakeholder_updates.c
        q = sa.select(t.stakeholder_updates).where(u.incident_id == incident_id).order_by(u.id)
        return [dict(r._mapping) for r in await self._run(q)]

    async def open_incidents_of(self, priorities: Collection[Priority]) -> list[Incident]:
        """Open incidents of these priorities (the timed updates' candidates)."""
        i = t.incidents.c
        q = INCIDENT_VIEW.where(
            i.state.in_(sorted(s.value for s in OPEN_INCIDENT_STATES)),
            i.priority.in_(sorted(p.value for p in priorities)),
        ).order_by(i.id)
        return [rows.incident_from_row(r._mapping) for r in await self._run(q)]

    async def last_updates(self, incident_ids: Collection[int]) -> dict[tuple[int, str], float]:
        """(incident id, group) -> when that group was last told anything about the incident."""
        if not incident_ids:
            return {}
        u = t.stakeholder_updates.c
        q = (
            sa.select(u.incident_id, u.group_name, sa.func.max(u.at).label("last"))
            .where(u.incident_id.in_(sorted(incident_ids)))
            .group_by(u.incident_id, u.group_name)
        )
        return {(r.incident_id, r.group_name): r.last for r in (await self._run(q)).all()}

    # ---- surveys ------------------------------------------------------------------------------
    async def survey_for(self, incident_id: int) -> Survey | None:
        q = sa.select(t.surveys).where(t.surveys.c.incident_id == incident_id)
        row = (await self._run(q)).first()
        return _survey(row) if row is not None else None

    async def insert_survey(self, s: Survey) -> Survey:
        values = {k: v for k, v in asdict(s).items() if k != "id"}
        s.id = (await self._run(sa.insert(t.surveys).values(**values).returning(t.surveys.c.id))).scalar_one()
        return s

    async def update_survey(self, s: Survey) -> None:
        values = {k: v for k, v in asdict(s).items() if k != "id"}
        await self._run(sa.update(t.surveys).where(t.surveys.c.id == s.id).values(**values))

    async def surveys_in_state(self, state: str) -> list[Survey]:
        q = sa.select(t.surveys).where(t.surveys.c.state == state).order_by(t.surveys.c.id)
        return [_survey(r) for r in await self._run(q)]

    async def open_surveys_on(self, channel: str, now: float) -> list[tuple[Survey, str | None]]:
        """Surveys sent on `channel` still taking replies, with their subject's number (None once
        erased or purged: such a survey matches no one)."""
        s = t.surveys.c
        q = (
            sa.select(t.surveys, t.subjects.c.number.label("subject_number"))
            .select_from(t.surveys.join(t.subjects, t.subjects.c.id == s.subject_id))
            .where(s.state == "sent", s.channel == channel, s.expires_at > now)
            .order_by(s.sent_at.desc())
        )
        return [(_survey(r), r._mapping["subject_number"]) for r in await self._run(q)]

    async def subject_number(self, subject_id: int) -> str | None:
        q = sa.select(t.subjects.c.number).where(t.subjects.c.id == subject_id)
        return (await self._run(q)).scalar_one_or_none()

    async def survey_outcomes_since(self, since: float) -> Sequence[sa.Row[Any]]:
        """(state, score, delivery state) of every survey sent since `since`."""
        s = t.surveys.c
        q = (
            sa.select(s.state, s.score, t.deliveries.c.state.label("delivery_state"))
            .select_from(t.surveys.outerjoin(t.deliveries, t.deliveries.c.id == s.delivery_id))
            .where(s.sent_at >= since)
        )
        return (await self._run(q)).all()
