"""Merge a duplicate incident into the one that survives (docs/architecture.md, "Merge and link").

A second caller reporting the same event made a second incident; the desk merges it into the
first. The duplicate is closed with `merged_into` naming the survivor; its calls, caller and
timeline stay on it and are shown with the survivor (the detail and the review list them).
The field is told, as a dispatcher would:

- a unit working for the duplicate and not yet sent to the survivor is carried over: one
  message, the survivor's dispatch (acknowledgement awaited as for any dispatch) naming the
  duplicate it replaces; its status stays as it is (it is going to the same event);
- a unit reached on the duplicate and already sent to the survivor is told to stand down from
  the duplicate and carry on; one reached that no longer works for it just stands down;
- whatever is still going out for the duplicate is cancelled (reason `incident merged`).

Both audit trails record the merge (`incident.merged` on the duplicate, `incident.duplicate_merged`
on the survivor). Refused with 409 (`MergeRefused`, a `reason` slug): into itself, an incident
that is not open, into one that is not open, and chains (into a merged incident, or merging an
incident that others were merged into).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.domain.models import Attempt, Delivery, Incident, Resource
from gateway.domain.personal import mask_number
from gateway.domain.states import (
    ENDED_EARLY,
    MERGEABLE_STATES,
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
from gateway.errors import Conflict
from gateway.policies.hazards import hazard_warning
from gateway.services import messages
from gateway.services.core import Core
from gateway.services.deliveries import Recipient, Terms, new_delivery
from gateway.services.incidents import MANDATORY, IncidentService
from gateway.services.unit_status import UnitStatusService
from gateway.store import Tx

S = IncidentState
RELEASED = (UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE)  # as a stand-down releases them
# Deliveries still worth carrying over: in progress, or reached the unit and not refused.
_CARRIED_OUTCOMES = (None, DeliveryOutcome.ACKNOWLEDGED, DeliveryOutcome.DELIVERED, DeliveryOutcome.SENT)


class MergeRefused(Conflict):
    """A merge that clashes with the incidents' state (HTTP 409 with `reason`)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(slots=True)
class Merged:
    duplicate: Incident
    survivor: Incident
    moved: list[str] = field(default_factory=list)  # units carried over to the survivor
    stood_down: list[str] = field(default_factory=list)  # units told to stand down from the duplicate
    cancelled: int = 0  # deliveries of the duplicate cancelled


def check(duplicate: Incident, survivor: Incident, held: list[Incident]) -> None:
    """Refuse a merge that cannot be done; `held`: the incidents merged into the duplicate."""
    d, s = duplicate.reference, survivor.reference
    if d == s:
        raise MergeRefused("itself", f"{d} cannot be merged into itself")
    if survivor.merged_into == d:
        raise MergeRefused("already_merged", f"{s} was already merged into {d}: they are one incident")
    if duplicate.merged_into:
        raise MergeRefused("already_merged", f"{d} was already merged into {duplicate.merged_into}")
    if survivor.merged_into:
        raise MergeRefused(
            "chain",
            f"{s} was itself merged into {survivor.merged_into}; merge {d} into {survivor.merged_into}",
        )
    if held:
        names = ", ".join(i.reference for i in held)
        raise MergeRefused(
            "chain",
            f"{names} {'was' if len(held) == 1 else 'were'} merged into {d}; merge {s} into {d} instead",
        )
    if duplicate.state not in MERGEABLE_STATES:
        raise MergeRefused("not_open", f"{d} is {duplicate.state.value}; only an open incident can be merged")
    if survivor.state not in MERGEABLE_STATES:
        raise MergeRefused("target_closed", f"{s} is {survivor.state.value}; merge into an open incident")


class MergeService:
    def __init__(self, core: Core, incidents: IncidentService, units: UnitStatusService) -> None:
        self.core = core
        self.incidents = incidents
        self.units = units

    async def merge(self, ref: str, into: str, *, actor: str, note: str = "") -> Merged:
        if ref == into:
            raise MergeRefused("itself", f"{ref} cannot be merged into itself")
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                # Both rows locked in one order, so two merges of the same pair cannot deadlock.
                locked = {r: await tx.get_incident(r, for_update=True) for r in sorted((ref, into))}
                duplicate, survivor = locked[ref], locked[into]
                check(duplicate, survivor, await tx.incidents_merged_into(duplicate.reference))
                done = Merged(duplicate, survivor)
                await self._field(tx, done, actor=actor)
                await self._close(tx, done, actor=actor, note=note)
        self.core.engine.poke()
        return done

    async def _field(self, tx: Tx, m: Merged, *, actor: str) -> None:
        dup, survivor = m.duplicate, m.survivor
        now = self.core.clock.now()
        deliveries = await tx.deliveries_for_incident(dup.id)
        attempts = await tx.attempts_for([d.id for d in deliveries])
        reached = {
            a.delivery_id for a in attempts if a.state in REACHED_STATES or a.state is DeliveryState.SENDING
        }
        on_survivor = {
            d.recipient_id
            for d in await tx.deliveries_for_incident(survivor.id)
            if d.purpose is Purpose.DISPATCH and d.outcome not in ENDED_EARLY
        }
        sent = [
            d
            for d in deliveries
            if d.purpose is Purpose.DISPATCH and d.recipient_kind is RecipientKind.RESOURCE
        ]
        units = await tx.resources_by_ids({d.recipient_id for d in sent})
        carry: list[Delivery] = []
        tell: list[Delivery] = []
        by_unit: dict[str, list[Delivery]] = {}
        for d in sent:
            by_unit.setdefault(d.recipient_id, []).append(d)
        # One decision per unit, over all its dispatches of the duplicate (a re-page makes more):
        # carried over, or told to stand down, never both.
        for rid in sorted(by_unit):
            working = units[rid].current_incident == dup.reference
            live = [d for d in by_unit[rid] if d.outcome in _CARRIED_OUTCOMES]
            told = [d for d in by_unit[rid] if d.id in reached and d.outcome is not DeliveryOutcome.DECLINED]
            if working and live and rid not in on_survivor:
                carry.append(live[-1])
                m.moved.append(rid)
            elif told:
                tell.append(told[-1])
                m.stood_down.append(rid)
        if carry:
            await self._ready_for_units(tx, m, actor=actor)
        for d in deliveries:
            if d.completed_at is None and d.purpose is not Purpose.STAND_DOWN:
                await ledger.finish(
                    tx, d, DeliveryOutcome.CANCELLED, now=now, reason=CloseReason.INCIDENT_MERGED
                )
                m.cancelled += 1
        if carry:
            await self._carry(tx, m, carry, units, actor=actor)
        if tell:
            await self._tell(
                tx, m, tell, units=units, attempts=attempts, on_survivor=on_survivor, actor=actor
            )

    async def _carry(
        self, tx: Tx, m: Merged, carry: list[Delivery], units: dict[str, Resource], *, actor: str
    ) -> None:
        """The survivor's dispatch to each unit carried over, naming the duplicate it replaces."""
        dup, survivor = m.duplicate, m.survivor
        assert survivor.priority is not None
        policy = self.core.settings.triage.targets[survivor.priority]
        dispatch = await tx.insert_dispatch(survivor.id, reason="merge", created_by=actor)
        hazard = hazard_warning(survivor.location, self.core.settings.hazards)
        terms = Terms(
            purpose=Purpose.DISPATCH,
            text=messages.merged_dispatch_text(dup, survivor, hazard),
            needs_ack=True,
            mode=policy.mode,
            confirm=policy.confirm_timeout,
            ack=policy.ack_deadline,
        )
        for d in carry:
            res = units[d.recipient_id]
            to = Recipient(RecipientKind.RESOURCE, res.id, res.contact_plan)
            await new_delivery(self.core, tx, survivor, dispatch.id, to=to, terms=terms)
            res.current_incident = survivor.reference
            await tx.update_resource(res)

    async def _tell(
        self,
        tx: Tx,
        m: Merged,
        tell: list[Delivery],
        *,
        units: dict[str, Resource],
        attempts: list[Attempt],
        on_survivor: set[str],
        actor: str,
    ) -> None:
        """A stand-down from the duplicate to each unit it reached, over the endpoint that
        reached it first; one the survivor has carries on, any other is released."""
        dup, survivor = m.duplicate, m.survivor
        stand = await tx.insert_dispatch(dup.id, reason="stand_down", created_by=actor)
        for d in tell:
            res = units[d.recipient_id]
            carry_on = d.recipient_id in on_survivor
            terms = Terms(
                purpose=Purpose.STAND_DOWN,
                text=messages.merged_stand_down_text(dup, survivor, carry_on=carry_on),
                needs_ack=False,
                mode=DeliveryMode.LADDER,
                confirm=d.confirm_timeout,
                ack=d.ack_timeout,
            )
            first = sorted({a.endpoint_index for a in attempts if a.delivery_id == d.id})
            plan = [d.plan[i] for i in first] + [e for i, e in enumerate(d.plan) if i not in first]
            to = Recipient(RecipientKind.RESOURCE, res.id, plan)
            await new_delivery(self.core, tx, dup, stand.id, to=to, terms=terms)
            if res.current_incident != dup.reference:
                continue
            if carry_on:
                res.current_incident = survivor.reference
                await tx.update_resource(res)
            elif res.status in RELEASED:
                evidence = {"stand_down": dup.reference, "merged_into": survivor.reference}
                await self.units.set_in(
                    tx, res, UnitStatus.AVAILABLE, actor=actor, incident=dup, evidence=evidence
                )

    async def _ready_for_units(self, tx: Tx, m: Merged, *, actor: str) -> None:
        """The survivor takes the duplicate's units: triaged if it was new, then dispatched."""
        survivor = m.survivor
        if survivor.state is S.NEW:
            missing = [k for k in MANDATORY if getattr(survivor, k) in (None, "")]
            if missing:
                raise MergeRefused(
                    "target_untriaged",
                    f"{survivor.reference} cannot take the units of {m.duplicate.reference} before triage "
                    f"(missing {', '.join(missing)}); complete it, or merge {survivor.reference} into "
                    f"{m.duplicate.reference}",
                )
            await self.incidents.triage_in(tx, survivor, actor=actor)
        if survivor.state is S.TRIAGED:
            await self.incidents.move(
                tx,
                survivor,
                S.DISPATCHED,
                actor=actor,
                data={"reason": "merge", "from_incident": m.duplicate.reference},
            )

    async def _close(self, tx: Tx, m: Merged, *, actor: str, note: str) -> None:
        dup, survivor = m.duplicate, m.survivor
        now = self.core.clock.now()
        previous = dup.state
        dup.state = S.CLOSED
        dup.merged_into = survivor.reference
        dup.closed_at = dup.updated_at = now
        await tx.update_incident(dup)
        outcome = {
            "moved": m.moved,
            "stood_down": m.stood_down,
            "cancelled_deliveries": m.cancelled,
            **({"note": note} if note else {}),
        }
        await tx.record(
            "incident.merged",
            incident=dup,
            actor=actor,
            at=now,
            data={
                "from": previous.value,
                "state": S.CLOSED.value,
                "into": survivor.reference,
                "resolution": f"merged into {survivor.reference}",
                **outcome,
            },
        )
        survivor.updated_at = now
        await tx.update_incident(survivor)
        await tx.record(
            "incident.duplicate_merged",
            incident=survivor,
            actor=actor,
            at=now,
            data={
                "duplicate": dup.reference,
                "caller_number": mask_number(dup.caller_number),
                "call_id": dup.call_id,
                "state": survivor.state.value,
                **outcome,
            },
        )
