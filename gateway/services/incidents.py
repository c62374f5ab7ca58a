"""Incident lifecycle: create, update, triage, resolve, close, cancel."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.domain.models import PERSONAL_FIELDS, Incident
from gateway.domain.personal import mask_number
from gateway.domain.states import Classification, IncidentState, Priority, check_incident_transition
from gateway.errors import ValidationFailed
from gateway.policies.geo import find_place
from gateway.policies.priority import priority_for
from gateway.services.core import Core
from gateway.store import Tx
from gateway.triage import Scene, classify

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Triaged:
    """What triage decided for an incident (gateway/triage.py), before it is written."""

    classification: Classification
    priority: Priority
    capabilities: list[str]
    recommendation: list[dict[str, Any]]

S = IncidentState
# Called inside the transaction of every state change (incident, from, to): stakeholder updates
# and the survey hang here (gateway/services/updates.py, gateway/services/survey.py).
TransitionHook = Callable[[Tx, Incident, IncidentState, IncidentState], Awaitable[None]]
EDITABLE = (
    "nature",
    "location",
    "category",
    "impact",
    "urgency",
    "caller_number",
    "caller_name",
    "called_number",
    "desk",
    "lessons",
    "lat",
    "lon",
)
MANDATORY = ("nature", "location", "category", "impact", "urgency")


class IncidentService:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.on_transition: list[TransitionHook] = []

    # ---- create / update ----------------------------------------------------------------------
    async def create(
        self, fields: dict[str, Any], *, source: str, actor: str, tx: Tx | None = None
    ) -> Incident:
        self._check_fields(fields)
        fields = self.locate(fields)
        ready = all(fields.get(k) not in (None, "") for k in MANDATORY)
        triaged = self.assess(fields) if ready else None  # before the transaction: no lock held
        if tx is not None:
            return await self._create(tx, fields, source=source, actor=actor, triaged=triaged)
        async for attempt in self.core.store.retrying():
            async with attempt as new_tx:
                inc = await self._create(new_tx, fields, source=source, actor=actor, triaged=triaged)
        return inc

    async def _create(
        self, tx: Tx, fields: dict[str, Any], *, source: str, actor: str, triaged: Triaged | None
    ) -> Incident:
        now = self.core.clock.now()
        year = datetime.fromtimestamp(now, UTC).year
        number = await tx.next_value(f"incident-{year}")
        inc = Incident(
            id=0,
            reference=f"INC-{year}-{number:06d}",
            source=source,
            state=S.NEW,
            created_at=now,
            updated_at=now,
        )
        for key in (*EDITABLE, "call_id", "call_answered_at"):
            if key in fields:
                setattr(inc, key, fields[key])
        await tx.insert_incident(inc)
        tx.store.references[inc.id] = inc.reference
        await tx.record(
            "incident.created",
            incident=inc,
            actor=actor,
            at=now,
            data={"source": source, "state": inc.state.value, **self._public(inc)},
        )
        tx.after_commit(self.core.metrics.incidents.labels(source).inc)
        log.info(
            "incident %s created from %s (caller %s)", inc.reference, source, mask_number(inc.caller_number)
        )
        if triaged is not None:
            await self.triage_in(tx, inc, actor=actor, triaged=triaged)
        return inc

    async def update(self, ref: str, fields: dict[str, Any], *, actor: str) -> Incident:
        self._check_fields(fields)
        unknown = set(fields) - set(EDITABLE)
        if unknown:
            raise ValidationFailed(dict.fromkeys(sorted(unknown), "not an editable field"))
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                inc = await tx.get_incident(ref, for_update=True)
                if inc.state in (S.CLOSED, S.CANCELLED) and set(fields) != {"lessons"}:
                    raise ValidationFailed({"state": f"a {inc.state.value} incident can only take lessons"})
                moved = "location" in fields and fields["location"] != inc.location
                located = self.locate(fields) if moved else fields  # the same place keeps its coordinates
                changed = {k: v for k, v in located.items() if getattr(inc, k) != v}
                for k, v in changed.items():
                    setattr(inc, k, v)
                inc.updated_at = self.core.clock.now()
                await tx.update_incident(inc)
                if PERSONAL_FIELDS & set(changed):
                    await tx.set_personal(inc)
                if changed:
                    await tx.record(
                        "incident.updated",
                        incident=inc,
                        actor=actor,
                        data={"changed": sorted(changed), **self._public(inc)},
                    )
                retriage = {"category", "impact", "urgency", "lat", "lon"} & set(changed)
                ready = all(getattr(inc, k) not in (None, "") for k in MANDATORY)
                if ready and (inc.state is S.NEW or (retriage and inc.state is S.TRIAGED)):
                    await self.triage_in(tx, inc, actor=actor)
                return inc
        raise AssertionError("a retried transaction ended without its result")

    def _check_fields(self, fields: dict[str, Any]) -> None:
        rows, cols = self.core.settings.triage.levels
        problems: dict[str, str] = {}
        for key, top in (("impact", rows), ("urgency", cols)):
            v = fields.get(key)
            if v is not None and not (isinstance(v, int) and 1 <= v <= top):
                problems[key] = f"must be a whole number from 1 (high) to {top} (low)"
        for key in ("nature", "location", "category"):
            v = fields.get(key)
            if v is not None and not str(v).strip():
                problems[key] = "must not be empty"
        lat, lon = fields.get("lat"), fields.get("lon")
        if ("lat" in fields) != ("lon" in fields) or (lat is None) != (lon is None):
            problems["lat"] = problems["lon"] = "lat and lon are given together"
        if problems:
            raise ValidationFailed(problems)

    def locate(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The fields with the location's coordinates: those the form gave, else the gazetteer
        place the location names (`[[gazetteer.places]]`); a new location without coordinates
        drops the old ones, which were for the old place."""
        if "location" not in fields or "lat" in fields:
            return fields
        place = find_place(fields["location"], self.core.settings.gazetteer.places)
        lat, lon = (place.lat, place.lon) if place is not None else (None, None)
        return {**fields, "lat": lat, "lon": lon}

    def scene(self, lat: float | None, lon: float | None) -> Scene | None:
        """Where the incident is, for a recommendation that weighs distance; None when unknown."""
        if lat is None or lon is None:
            return None
        return Scene(lat, lon, self.core.clock.now(), self.core.settings.positions.max_age)

    # ---- triage -------------------------------------------------------------------------------
    async def triage(self, ref: str, *, actor: str) -> Incident:
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                inc = await tx.get_incident(ref, for_update=True)
                missing = {k: "required before triage" for k in MANDATORY if getattr(inc, k) in (None, "")}
                if missing:
                    raise ValidationFailed(missing)
                await self.triage_in(tx, inc, actor=actor)
                return inc
        raise AssertionError("a retried transaction ended without its result")

    async def triage_in(self, tx: Tx, inc: Incident, *, actor: str, triaged: Triaged | None = None) -> None:
        """Classify, prioritise and recommend inside the caller's transaction (dispatch uses this
        for an incident that is still new). `triaged`: the result, worked out before the
        transaction began (`assess`), so the transaction only writes it."""
        check_incident_transition(
            inc.reference, inc.state, S.TRIAGED if inc.state in (S.NEW, S.TRIAGED) else inc.state
        )
        result = triaged or self.assess(inc)
        inc.classification = result.classification
        inc.priority = result.priority
        inc.recommendation = result.recommendation
        now = self.core.clock.now()
        previous = inc.state
        if inc.state is S.NEW:
            inc.state = S.TRIAGED
        inc.triaged_at = now
        inc.updated_at = now
        await tx.update_incident(inc)
        await tx.record(
            "incident.triaged",
            incident=inc,
            actor=actor,
            at=now,
            data={
                "classification": result.classification.value,
                "priority": result.priority.value,
                "required_capabilities": result.capabilities,
                "response_target_seconds": self.core.settings.triage.targets[result.priority].response_target,
                "recommendation": result.recommendation,
                "state": inc.state.value,
            },
        )
        if previous is S.NEW:
            for hook in self.on_transition:
                await hook(tx, inc, previous, inc.state)

    def assess(self, fields: Incident | dict[str, Any]) -> Triaged:
        """Classification, priority and recommended units for these fields, from settings and the
        resource directory in memory: no store access, so it runs before any transaction."""
        def get(key: str) -> Any:
            return fields.get(key) if isinstance(fields, dict) else getattr(fields, key)

        settings = self.core.settings.triage
        impact, urgency = get("impact"), get("urgency")
        assert impact is not None and urgency is not None
        classification, capabilities = classify(
            get("category"), settings.rules, settings.default_classification
        )
        priority = priority_for(impact, urgency, settings.matrix)
        recs = self.core.directory.recommend(
            capabilities=capabilities,
            priority=priority,
            count=settings.targets[priority].units,
            exclude=self.core.maintenance.resources_out(self.core.clock.now()),  # planned works
            scene=self.scene(get("lat"), get("lon")),
        )
        return Triaged(classification, priority, capabilities, [asdict(r) for r in recs])

    def response_target(self, priority: Priority | None) -> float | None:
        return self.core.settings.triage.targets[priority].response_target if priority else None

    # ---- state changes ------------------------------------------------------------------------
    async def move(
        self, tx: Tx, inc: Incident, target: IncidentState, *, actor: str, data: dict[str, Any] | None = None
    ) -> bool:
        """Apply a transition, stamping its time. Moving to the state it is in is a no-op (False)."""
        if inc.state is target and target is not S.TRIAGED:
            return False
        check_incident_transition(inc.reference, inc.state, target)
        now = self.core.clock.now()
        previous = inc.state
        inc.state = target
        inc.updated_at = now
        stamp = f"{target.value}_at"
        if hasattr(inc, stamp) and getattr(inc, stamp) is None:
            setattr(inc, stamp, now)
        await tx.update_incident(inc)
        await tx.record(
            f"incident.{target.value}",
            incident=inc,
            actor=actor,
            at=now,
            data={"from": previous.value, "state": target.value, **(data or {})},
        )
        for hook in self.on_transition:
            await hook(tx, inc, previous, target)
        return True

    @staticmethod
    def _public(inc: Incident) -> dict[str, Any]:
        """Fields safe for the audit payload and the bus (personal data masked)."""
        return {
            "nature": inc.nature,
            "location": inc.location,
            "lat": inc.lat,
            "lon": inc.lon,
            "category": inc.category,
            "impact": inc.impact,
            "urgency": inc.urgency,
            "caller_number": mask_number(inc.caller_number),
            "call_id": inc.call_id,
        }
