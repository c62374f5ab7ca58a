"""Unit status: what a resource is doing, and what that says about its incident."""

from __future__ import annotations

from typing import Any

from gateway.domain.models import Incident, Resource
from gateway.domain.states import IncidentState, UnitStatus, check_unit_transition
from gateway.services.core import Core
from gateway.services.incidents import IncidentService
from gateway.store import Tx

S = IncidentState
# A unit with one of these has no incident any more.
FREE = frozenset({UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE, UnitStatus.UNAVAILABLE})


class UnitStatusService:
    def __init__(self, core: Core, incidents: IncidentService) -> None:
        self.core = core
        self.incidents = incidents

    async def set_unit_status(
        self,
        resource_id: str,
        status: UnitStatus,
        *,
        actor: str,
        evidence: dict[str, Any] | None = None,
        urgent: bool = False,
    ) -> Resource:
        """A status the unit or the desk states. `urgent`: it came from the field, so it is written
        ahead of queued new work (gateway/store/locks.py)."""
        async for attempt in self.core.store.retrying(urgent=urgent):
            async with attempt as tx:
                res = await tx.get_resource(resource_id)
                inc = None
                if res.current_incident:
                    inc = await tx.get_incident(res.current_incident, for_update=True)
                await self.set_in(
                    tx, res, status, actor=actor, incident=inc, evidence=evidence or {}, stated=True
                )
                return res
        raise AssertionError("a retried transaction ended without its result")

    async def set_in(
        self,
        tx: Tx,
        res: Resource,
        status: UnitStatus,
        *,
        actor: str,
        incident: Incident | None,
        evidence: dict[str, Any],
        stated: bool = False,
    ) -> None:
        """Set a unit's status inside the caller's transaction; EN ROUTE and ON SCENE move its
        incident on (acknowledged, on scene). A status the unit or the desk `stated` is taken as
        it is; one the gateway infers must be in the table (gateway/domain/states.py)."""
        now = self.core.clock.now()
        previous = res.status
        if not stated:
            check_unit_transition(res.id, previous, status)
        if status is not previous:
            res.status = status
            res.status_since = now
        if status is UnitStatus.DISPATCHED and incident is not None:
            res.current_incident = incident.reference
        elif status in FREE:
            res.current_incident = None
        await tx.update_resource(res)
        if status is not previous:
            await tx.record(
                "unit.status",
                incident=incident,
                actor=actor,
                at=now,
                data={
                    "resource": res.id,
                    "from": previous.value,
                    "status": status.value,
                    "evidence": evidence,
                },
            )
        if incident is None or incident.state in (S.RESOLVED, S.CLOSED, S.CANCELLED):
            return
        if status is UnitStatus.EN_ROUTE and incident.state is S.DISPATCHED:
            await self.incidents.move(tx, incident, S.ACKNOWLEDGED, actor=actor, data={"resource": res.id})
        if status is UnitStatus.ON_SCENE and incident.state in (S.DISPATCHED, S.ACKNOWLEDGED):
            await self.incidents.move(tx, incident, S.ON_SCENE, actor=actor, data={"resource": res.id})
