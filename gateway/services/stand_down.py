"""Resolve, cancel and close an incident: cancel what is still going out and tell every resource
that was reached to stand down."""

from __future__ import annotations

from gateway.domain.models import Incident
from gateway.domain.states import (
    INFORMATIONAL,
    REACHED_STATES,
    CloseReason,
    DeliveryMode,
    DeliveryOutcome,
    DeliveryState,
    IncidentState,
    Purpose,
    RecipientKind,
    UnitStatus,
)
from gateway.engine import ledger
from gateway.services import messages
from gateway.services.core import Core
from gateway.services.deliveries import Recipient, Terms, new_delivery
from gateway.services.incidents import IncidentService
from gateway.services.unit_status import UnitStatusService
from gateway.store import Tx

S = IncidentState
# Units still on their way are released by a stand-down; a unit on scene reports its own status.
RELEASED = (UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE)


class StandDownService:
    def __init__(self, core: Core, incidents: IncidentService, units: UnitStatusService) -> None:
        self.core = core
        self.incidents = incidents
        self.units = units

    async def resolve(self, ref: str, *, actor: str, note: str = "") -> Incident:
        return await self._end(ref, S.RESOLVED, actor=actor, why=CloseReason.INCIDENT_RESOLVED, note=note)

    async def cancel(self, ref: str, *, actor: str, note: str = "") -> Incident:
        return await self._end(ref, S.CANCELLED, actor=actor, why=CloseReason.INCIDENT_CANCELLED, note=note)

    async def _end(
        self, ref: str, target: IncidentState, *, actor: str, why: CloseReason, note: str
    ) -> Incident:
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                inc = await tx.get_incident(ref, for_update=True)
                await self.incidents.move(tx, inc, target, actor=actor, data={"note": note} if note else None)
                await self.stand_down(tx, inc, why=why, actor=actor)
        self.core.engine.poke()
        return inc

    async def stand_down(self, tx: Tx, inc: Incident, *, why: CloseReason, actor: str) -> int:
        """Cancel what is still going out and tell everyone who was reached to stand down."""
        now = self.core.clock.now()
        deliveries = await tx.deliveries_for_incident(inc.id, for_update=True)
        attempts = await tx.attempts_for([d.id for d in deliveries])
        reached: dict[int, list[int]] = {}  # delivery id -> plan indexes that reached the recipient
        for a in attempts:
            if a.state in REACHED_STATES or a.state is DeliveryState.SENDING:
                reached.setdefault(a.delivery_id, []).append(a.endpoint_index)
        dispatch_id: int | None = None
        count = 0
        for d in deliveries:
            if d.purpose in INFORMATIONAL:
                continue
            if d.completed_at is None:
                await ledger.finish(tx, d, DeliveryOutcome.CANCELLED, now=now, reason=why)
            if (
                d.purpose is not Purpose.DISPATCH
                or d.id not in reached
                or d.outcome is DeliveryOutcome.DECLINED
            ):
                continue
            # The endpoints that reached them first, then the rest of their plan.
            first = sorted(set(reached[d.id]))
            plan = [d.plan[i] for i in first] + [e for i, e in enumerate(d.plan) if i not in first]
            if dispatch_id is None:
                dispatch_id = (await tx.insert_dispatch(inc.id, reason="stand_down", created_by=actor)).id
            terms = Terms(
                purpose=Purpose.STAND_DOWN,
                text=messages.stand_down_text(inc, why),
                needs_ack=False,
                mode=DeliveryMode.LADDER,
                confirm=d.confirm_timeout,
                ack=d.ack_timeout,
            )
            await new_delivery(
                self.core,
                tx,
                inc,
                dispatch_id,
                to=Recipient(RecipientKind.RESOURCE, d.recipient_id, plan),
                terms=terms,
            )
            count += 1
            res = await tx.get_resource(d.recipient_id)
            if res.current_incident == inc.reference and res.status in RELEASED:
                await self.units.set_in(
                    tx,
                    res,
                    UnitStatus.AVAILABLE,
                    actor=actor,
                    incident=inc,
                    evidence={"stand_down": inc.reference},
                )
        return count

    async def close(self, ref: str, *, actor: str, lessons: str | None = None) -> Incident:
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                inc = await tx.get_incident(ref, for_update=True)
                if lessons is not None:
                    inc.lessons = lessons
                await self.incidents.move(tx, inc, S.CLOSED, actor=actor)
                for d in await tx.deliveries_for_incident(inc.id, for_update=True):
                    if d.completed_at is None and d.purpose not in INFORMATIONAL:
                        await ledger.finish(
                            tx,
                            d,
                            DeliveryOutcome.CANCELLED,
                            now=self.core.clock.now(),
                            reason=CloseReason.INCIDENT_CLOSED,
                        )
                await tx.record(
                    "incident.review_ready",
                    incident=inc,
                    actor=actor,
                    data={"review": f"/api/v1/incidents/{inc.reference}/review"},
                )
        return inc
