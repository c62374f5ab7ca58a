"""Dispatch: send an incident to resources, and notify stakeholder groups (one delivery each)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from gateway.domain.models import Delivery, Incident
from gateway.domain.states import (
    ENDED_EARLY,
    NOT_DISPATCHABLE,
    DeliveryMode,
    IncidentState,
    Priority,
    Purpose,
    RecipientKind,
    UnitStatus,
)
from gateway.errors import Conflict, ValidationFailed
from gateway.policies.hazards import hazard_warning
from gateway.services import messages
from gateway.services.core import Core
from gateway.services.deliveries import Recipient, Terms, new_delivery
from gateway.services.incidents import MANDATORY, IncidentService
from gateway.services.unit_status import UnitStatusService
from gateway.store import Tx

S = IncidentState
DISPATCHABLE = (S.TRIAGED, S.DISPATCHED, S.ACKNOWLEDGED, S.ON_SCENE)


class DispatchService:
    def __init__(self, core: Core, incidents: IncidentService, units: UnitStatusService) -> None:
        self.core = core
        self.incidents = incidents
        self.units = units

    async def dispatch(
        self, ref: str, resource_ids: Sequence[str] | None, *, actor: str, reason: str = "dispatch"
    ) -> list[Delivery]:
        """Send the incident to resources (None: the recorded recommendation). One delivery each."""
        started = time.perf_counter()
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                inc = await tx.get_incident(ref, for_update=True)
                deliveries = await self.dispatch_in(tx, inc, resource_ids, actor=actor, reason=reason)
        self.core.metrics.decision_seconds.observe(time.perf_counter() - started)
        self.core.engine.poke()
        return deliveries

    async def dispatch_in(
        self, tx: Tx, inc: Incident, resource_ids: Sequence[str] | None, *, actor: str, reason: str
    ) -> list[Delivery]:
        if inc.state is S.NEW:
            missing = {k: "required before dispatch" for k in MANDATORY if getattr(inc, k) in (None, "")}
            if missing:
                raise ValidationFailed(missing)
            await self.incidents.triage_in(tx, inc, actor=actor)
        if inc.state not in DISPATCHABLE:
            raise Conflict(f"{inc.reference} is {inc.state.value}; it cannot be dispatched")
        if resource_ids is None:
            resource_ids = [r["resource_id"] for r in inc.recommendation]
            if not resource_ids:
                raise Conflict(f"{inc.reference} has no recommended resource; name the resources")
        if len(set(resource_ids)) != len(resource_ids):
            raise ValidationFailed({"resources": "a resource is named twice"})
        # Only the chosen units are read, and in id order: every transaction that writes unit rows
        # takes their locks in that one order, so concurrent dispatches cannot deadlock.
        found = await tx.resources_by_ids(set(resource_ids))
        unknown = [rid for rid in resource_ids if rid not in found]
        if unknown:
            raise ValidationFailed({"resources": f"unknown resource {unknown[0]!r}"})
        for rid in resource_ids:
            if found[rid].status in NOT_DISPATCHABLE:
                raise ValidationFailed({"resources": f"{rid} is {found[rid].status.value}"})
        resources = [found[rid] for rid in sorted(found)]
        already = {
            d.recipient_id
            for d in await tx.deliveries_for_incident(inc.id)
            if d.purpose is Purpose.DISPATCH and d.outcome not in ENDED_EARLY
        }
        again = [r.id for r in resources if r.id in already]
        if again and reason == "dispatch":
            raise ValidationFailed({"resources": f"already dispatched: {', '.join(again)}"})
        assert inc.priority is not None
        policy = self.core.settings.triage.targets[inc.priority]
        dispatch = await tx.insert_dispatch(inc.id, reason=reason, created_by=actor)
        await self.incidents.move(
            tx,
            inc,
            S.DISPATCHED,
            actor=actor,
            data={"dispatch": dispatch.id, "resources": list(resource_ids), "reason": reason},
        )
        terms = Terms(
            purpose=Purpose.DISPATCH,
            text=messages.dispatch_text(inc, hazard_warning(inc.location, self.core.settings.hazards)),
            needs_ack=True,
            mode=policy.mode,
            confirm=policy.confirm_timeout,
            ack=policy.ack_deadline,
        )
        made: dict[str, Delivery] = {}
        for res in resources:
            to = Recipient(RecipientKind.RESOURCE, res.id, res.contact_plan)
            made[res.id] = await new_delivery(self.core, tx, inc, dispatch.id, to=to, terms=terms)
            await self.units.set_in(
                tx, res, UnitStatus.DISPATCHED, actor=actor, incident=inc, evidence={"dispatch": dispatch.id}
            )
        return [made[rid] for rid in resource_ids]

    async def notify(self, tx: Tx, inc: Incident, group: str, text: str, *, actor: str, reason: str) -> int:
        """Message every stakeholder in a group (supervisors, duty managers). No ack is awaited."""
        return (await self.notify_group(tx, inc, group, text, actor=actor, reason=reason))[0]

    async def notify_group(
        self,
        tx: Tx,
        inc: Incident,
        group: str,
        text: str,
        *,
        actor: str,
        reason: str,
        purpose: Purpose = Purpose.NOTIFY,
    ) -> tuple[int, int | None]:
        """`notify`, also saying which dispatch carries the deliveries (None: nobody in the group)."""
        members = [s for s in self.core.stakeholders if group in s.groups]
        if not members:
            return 0, None
        dispatch = await tx.insert_dispatch(inc.id, reason=reason, created_by=actor)
        policy = self.core.settings.triage.targets[inc.priority or Priority.P4]
        terms = Terms(
            purpose=purpose,
            text=text,
            needs_ack=False,
            mode=DeliveryMode.LADDER,
            confirm=policy.confirm_timeout,
            ack=policy.ack_deadline,
        )
        for s in members:
            await new_delivery(
                self.core,
                tx,
                inc,
                dispatch.id,
                to=Recipient(RecipientKind.STAKEHOLDER, s.id, s.contact_plan),
                terms=terms,
            )
        return len(members), dispatch.id
