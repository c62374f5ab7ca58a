"""Dispatch, acknowledgements, unit status, stand-down: what moves resources and deliveries."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.domain.models import Attempt, Delivery, Endpoint, Incident, Resource
from gateway.domain.states import (
    REACHED_STATES,
    DeliveryMode,
    DeliveryState,
    IncidentState,
    Priority,
    Purpose,
    UnitStatus,
)
from gateway.engine import ledger
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.replies import Reply, ReplyKind
from gateway.services import messages
from gateway.services.core import Core
from gateway.services.incidents import IncidentService
from gateway.store import Tx

log = logging.getLogger(__name__)
S = IncidentState
BUSY = frozenset({UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE})
NOT_DISPATCHABLE = frozenset({UnitStatus.OUT_OF_SERVICE, UnitStatus.UNAVAILABLE})
REPLY_STATUS = {
    ReplyKind.EN_ROUTE: UnitStatus.EN_ROUTE,
    ReplyKind.ON_SCENE: UnitStatus.ON_SCENE,
    ReplyKind.CLEAR: UnitStatus.AVAILABLE,
}


@dataclass(frozen=True, slots=True)
class FieldAck:
    attempt_id: int
    via: tuple[str, str]  # (channel, address) it came from
    evidence: dict[str, Any]


class DispatchService:
    def __init__(self, core: Core, incidents: IncidentService) -> None:
        self.core = core
        self.incidents = incidents

    # ---- dispatch -----------------------------------------------------------------------------
    async def dispatch(
        self, ref: str, resource_ids: Sequence[str] | None, *, actor: str, reason: str = "dispatch"
    ) -> list[Delivery]:
        """Send the incident to resources (None: the recorded recommendation). One delivery each."""
        started = time.perf_counter()
        async with self.core.store.write() as tx:
            inc = await tx.get_incident(ref, for_update=True)
            deliveries = await self.dispatch_in(tx, inc, resource_ids, actor=actor, reason=reason)
        self.core.metrics.decision_seconds.observe(time.perf_counter() - started)
        self.core.engine.poke()
        return deliveries

    async def dispatch_in(
        self, tx: Tx, inc: Incident, resource_ids: Sequence[str] | None, *, actor: str, reason: str
    ) -> list[Delivery]:
        if inc.state is S.NEW:
            missing = {
                k: "required before dispatch"
                for k in ("nature", "location", "category", "impact", "urgency")
                if getattr(inc, k) in (None, "")
            }
            if missing:
                raise ValidationFailed(missing)
            await self.incidents._triage(tx, inc, actor=actor)
        if inc.state not in (S.TRIAGED, S.DISPATCHED, S.ACKNOWLEDGED, S.ON_SCENE):
            raise Conflict(f"{inc.reference} is {inc.state.value}; it cannot be dispatched")
        if resource_ids is None:
            resource_ids = [r["resource_id"] for r in inc.recommendation]
            if not resource_ids:
                raise Conflict(f"{inc.reference} has no recommended resource; name the resources")
        if len(set(resource_ids)) != len(resource_ids):
            raise ValidationFailed({"resources": "a resource is named twice"})
        resources = []
        for rid in resource_ids:
            try:
                res = await tx.get_resource(rid)
            except NotFound:
                raise ValidationFailed({"resources": f"unknown resource {rid!r}"}) from None
            if res.status in NOT_DISPATCHABLE:
                raise ValidationFailed({"resources": f"{rid} is {res.status.value}"})
            resources.append(res)
        already = {
            d.recipient_id
            for d in await tx.deliveries_for_incident(inc.id)
            if d.purpose is Purpose.DISPATCH and d.outcome not in ("declined", "cancelled")
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
        out = []
        for res in resources:
            d = await self._new_delivery(
                tx,
                inc,
                dispatch.id,
                recipient_id=res.id,
                kind="resource",
                plan=res.contact_plan,
                purpose=Purpose.DISPATCH,
                text=messages.dispatch_text(inc),
                needs_ack=True,
                mode=policy.mode,
                confirm=policy.confirm_timeout,
                ack=policy.ack_deadline,
            )
            out.append(d)
            await self._set_status(
                tx, res, UnitStatus.DISPATCHED, actor=actor, incident=inc, evidence={"dispatch": dispatch.id}
            )
        return out

    async def _new_delivery(
        self,
        tx: Tx,
        inc: Incident,
        dispatch_id: int,
        *,
        recipient_id: str,
        kind: str,
        plan: list[Endpoint],
        purpose: Purpose,
        text: str,
        needs_ack: bool,
        mode: DeliveryMode,
        confirm: float,
        ack: float,
    ) -> Delivery:
        now = self.core.clock.now()
        d = await tx.insert_delivery(
            Delivery(
                id=0,
                dispatch_id=dispatch_id,
                incident_id=inc.id,
                recipient_kind=kind,
                recipient_id=recipient_id,
                purpose=purpose,
                text=text,
                priority=inc.priority or Priority.P4,
                mode=mode,
                needs_ack=needs_ack,
                plan=list(plan),
                state=DeliveryState.PENDING,
                created_at=now,
                updated_at=now,
                confirm_timeout=confirm,
                ack_timeout=ack,
            )
        )
        await tx.record(
            "delivery.created",
            incident=inc,
            delivery_id=d.id,
            at=now,
            data={
                "delivery": d.id,
                "recipient": recipient_id,
                "recipient_kind": kind,
                "purpose": purpose.value,
                "mode": mode.value,
                "needs_ack": needs_ack,
                "plan": [f"{e.channel}:{e.address}" for e in plan],
            },
        )
        await self.core.engine.advance(tx, d, [])  # a new delivery has no attempts yet
        return d

    async def notify(self, tx: Tx, inc: Incident, group: str, text: str, *, actor: str, reason: str) -> int:
        """Message every stakeholder in a group (supervisors, duty managers). No ack is awaited."""
        members = [s for s in self.core.stakeholders if group in s.groups]
        if not members:
            return 0
        dispatch = await tx.insert_dispatch(inc.id, reason=reason, created_by=actor)
        policy = self.core.settings.triage.targets[inc.priority or Priority.P4]
        for s in members:
            await self._new_delivery(
                tx,
                inc,
                dispatch.id,
                recipient_id=s.id,
                kind="stakeholder",
                plan=s.contact_plan,
                purpose=Purpose.NOTIFY,
                text=text,
                needs_ack=False,
                mode=DeliveryMode.LADDER,
                confirm=policy.confirm_timeout,
                ack=policy.ack_deadline,
            )
        return len(members)

    # ---- acknowledgements and replies ---------------------------------------------------------
    async def acknowledge(
        self, ref: str, resource_id: str | None, *, actor: str, evidence: dict[str, Any] | None = None
    ) -> list[Delivery]:
        """A desk acknowledgement (e.g. the unit answered on voice radio)."""
        async with self.core.store.write() as tx:
            inc = await tx.get_incident(ref, for_update=True)
            targets = [
                d
                for d in await tx.deliveries_for_incident(inc.id)
                if d.purpose is Purpose.DISPATCH
                and d.acknowledged_at is None
                and d.outcome not in ("cancelled", "declined")
                and (resource_id is None or d.recipient_id == resource_id)
            ]
            if not targets:
                raise Conflict(
                    f"{ref}: no dispatch awaiting acknowledgement"
                    + (f" from {resource_id}" if resource_id else "")
                )
            for d in targets:
                await self._ack(
                    tx, inc, d, via=None, actor=actor, evidence={"source": "desk", **(evidence or {})}
                )
        self.core.engine.poke()
        return targets

    async def _ack(
        self,
        tx: Tx,
        inc: Incident,
        d: Delivery,
        *,
        via: tuple[str, str] | None,
        actor: str,
        evidence: dict[str, Any],
        attempts: list[Attempt] | None = None,
    ) -> bool:
        ok = await ledger.acknowledge(
            tx, d, now=self.core.clock.now(), via=via, evidence=evidence, actor=actor, attempts=attempts
        )
        if ok and inc.state is S.DISPATCHED:
            await self.incidents.move(
                tx, inc, S.ACKNOWLEDGED, actor=actor, data={"resource": d.recipient_id, "evidence": evidence}
            )
        return ok

    async def ack_attempt(self, attempt_id: int, *, via: tuple[str, str], evidence: dict[str, Any]) -> bool:
        """A structured ack naming the message (radio ack button, APRS ackNN). False when the
        message id is unknown or was not sent to the channel and address the ack came from."""
        return (await self.ack_attempts([FieldAck(attempt_id, via, evidence)]))[0]

    async def ack_attempts(self, acks: Sequence[FieldAck]) -> list[bool]:
        """Many structured acks in one transaction (a talkgroup answering at once, a busy radio
        gateway): the rows are loaded once, then each ack is applied in order."""
        now = self.core.clock.now()
        async with self.core.store.write() as tx:
            batch = await tx.batch_for(await tx.attempts_by_ids({k.attempt_id for k in acks}))
            deliveries = batch.deliveries
            incidents = await tx.incidents_by_ids({d.incident_id for d in deliveries.values()})
            resources = await tx.resources_by_ids(
                {d.recipient_id for d in deliveries.values() if d.recipient_kind == "resource"}
            )
            results = []
            for ack in acks:
                a = batch.by_id.get(ack.attempt_id)
                # An ack counts only from where the message went: the radio itself, or a radio in
                # the talkgroup it went to (the channel names the group in the evidence).
                group = ack.evidence.get("talkgroup")
                if a is None or (
                    (a.channel, a.address) != ack.via and (a.channel, a.address) != (ack.via[0], group)
                ):
                    results.append(False)
                    continue
                results.append(True)
                d = deliveries[a.delivery_id]
                if d.purpose is not Purpose.DISPATCH:
                    continue
                await self._ack(
                    tx,
                    incidents[d.incident_id],
                    d,
                    via=(a.channel, a.address),
                    actor=f"field:{d.recipient_id}",
                    evidence={**ack.evidence, "from": ack.via[1]},
                    attempts=batch.attempts[d.id],
                )
                res = resources.get(d.recipient_id)
                if res is not None:
                    res.last_contact_at = now
                    await tx.update_resource(res)
        self.core.engine.poke()
        return results

    async def apply_reply(
        self, resource_id: str, reply: Reply, *, via: tuple[str, str] | None, evidence: dict[str, Any]
    ) -> str:
        """A parsed reply from a resource. Returns what it did, for the audit and the log."""
        async with self.core.store.write() as tx:
            d = None
            if reply.reference or reply.short_ref is not None:
                # A reply naming an incident applies to that incident only, never to another one
                # (e.g. "CLEAR 42" after 42 was closed must not acknowledge a newer dispatch).
                inc_id = await self._incident_for(tx, reply)
                if inc_id is not None:
                    d = await tx.latest_dispatch_delivery(resource_id, inc_id)
            else:
                d = await tx.latest_dispatch_delivery(resource_id)
            actor = f"field:{resource_id}"
            await self._touch(tx, resource_id)
            if d is None:
                res = await tx.get_resource(resource_id)
                if reply.kind in REPLY_STATUS:
                    await self._set_status(
                        tx, res, REPLY_STATUS[reply.kind], actor=actor, incident=None, evidence=evidence
                    )
                    return f"status {REPLY_STATUS[reply.kind].value}"
                await tx.record(
                    "field.unmatched_reply",
                    actor=actor,
                    data={"resource": resource_id, "reply": reply.kind.value, **evidence},
                )
                return "no open dispatch"
            inc = await tx.get_incident(d.incident_id, for_update=True)
            if reply.kind is ReplyKind.DECLINE:
                await ledger.finish(
                    tx, d, "declined", now=self.core.clock.now(), reason="declined by resource"
                )
                res = await tx.get_resource(resource_id)
                await self._set_status(
                    tx, res, UnitStatus.AVAILABLE, actor=actor, incident=inc, evidence=evidence
                )
                return "declined"
            # EN ROUTE and ON SCENE imply an ack; only a repeated ACK is recorded as a duplicate.
            if reply.kind is ReplyKind.ACK or (
                reply.kind in (ReplyKind.EN_ROUTE, ReplyKind.ON_SCENE) and d.acknowledged_at is None
            ):
                await self._ack(tx, inc, d, via=via, actor=actor, evidence=evidence)
            if reply.kind in REPLY_STATUS:
                res = await tx.get_resource(resource_id)
                await self._set_status(
                    tx, res, REPLY_STATUS[reply.kind], actor=actor, incident=inc, evidence=evidence
                )
        self.core.engine.poke()
        return reply.kind.value

    async def _incident_for(self, tx: Tx, reply: Reply) -> int | None:
        if reply.reference:
            try:
                return (await tx.get_incident(reply.reference)).id
            except NotFound:
                return None
        assert reply.short_ref is not None
        inc = await tx.incident_by_serial(
            reply.short_ref, [x.value for x in (S.DISPATCHED, S.ACKNOWLEDGED, S.ON_SCENE)]
        )
        return inc.id if inc else None

    async def _touch(self, tx: Tx, resource_id: str) -> None:
        res = await tx.get_resource(resource_id)
        res.last_contact_at = self.core.clock.now()
        await tx.update_resource(res)

    # ---- unit status --------------------------------------------------------------------------
    async def set_unit_status(
        self, resource_id: str, status: UnitStatus, *, actor: str, evidence: dict[str, Any] | None = None
    ) -> Resource:
        async with self.core.store.write() as tx:
            res = await tx.get_resource(resource_id)
            inc = None
            if res.current_incident:
                inc = await tx.get_incident(res.current_incident, for_update=True)
            await self._set_status(tx, res, status, actor=actor, incident=inc, evidence=evidence or {})
            return res

    async def _set_status(
        self,
        tx: Tx,
        res: Resource,
        status: UnitStatus,
        *,
        actor: str,
        incident: Incident | None,
        evidence: dict[str, Any],
    ) -> None:
        now = self.core.clock.now()
        previous = res.status
        if status is not previous:
            res.status = status
            res.status_since = now
        if status is UnitStatus.DISPATCHED and incident is not None:
            res.current_incident = incident.reference
        elif status in (UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE, UnitStatus.UNAVAILABLE):
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

    # ---- resolve, cancel, close ---------------------------------------------------------------
    async def resolve(self, ref: str, *, actor: str, note: str = "") -> Incident:
        return await self._end(ref, S.RESOLVED, actor=actor, why="incident resolved", note=note)

    async def cancel(self, ref: str, *, actor: str, note: str = "") -> Incident:
        return await self._end(ref, S.CANCELLED, actor=actor, why="incident cancelled", note=note)

    async def _end(self, ref: str, target: IncidentState, *, actor: str, why: str, note: str) -> Incident:
        async with self.core.store.write() as tx:
            inc = await tx.get_incident(ref, for_update=True)
            await self.incidents.move(tx, inc, target, actor=actor, data={"note": note} if note else None)
            await self.stand_down(tx, inc, why=why, actor=actor)
        self.core.engine.poke()
        return inc

    async def stand_down(self, tx: Tx, inc: Incident, *, why: str, actor: str) -> int:
        """Cancel what is still going out and tell everyone who was reached to stand down."""
        now = self.core.clock.now()
        deliveries = await tx.deliveries_for_incident(inc.id)
        attempts = await tx.attempts_for([d.id for d in deliveries])
        reached: dict[int, list[int]] = {}  # delivery id -> plan indexes that reached the recipient
        for a in attempts:
            if a.state in REACHED_STATES or a.state is DeliveryState.SENDING:
                reached.setdefault(a.delivery_id, []).append(a.endpoint_index)
        dispatch_id: int | None = None
        count = 0
        for d in deliveries:
            if d.purpose is Purpose.STAND_DOWN:
                continue
            if d.completed_at is None:
                await ledger.finish(tx, d, "cancelled", now=now, reason=why)
            if d.purpose is not Purpose.DISPATCH or d.id not in reached or d.outcome == "declined":
                continue
            # The endpoints that reached them first, then the rest of their plan.
            first = sorted(set(reached[d.id]))
            plan = [d.plan[i] for i in first] + [e for i, e in enumerate(d.plan) if i not in first]
            if dispatch_id is None:
                dispatch_id = (await tx.insert_dispatch(inc.id, reason="stand_down", created_by=actor)).id
            await self._new_delivery(
                tx,
                inc,
                dispatch_id,
                recipient_id=d.recipient_id,
                kind="resource",
                plan=plan,
                purpose=Purpose.STAND_DOWN,
                text=messages.stand_down_text(inc, why),
                needs_ack=False,
                mode=DeliveryMode.LADDER,
                confirm=d.confirm_timeout,
                ack=d.ack_timeout,
            )
            count += 1
            res = await tx.get_resource(d.recipient_id)
            if res.current_incident == inc.reference and res.status in (
                UnitStatus.DISPATCHED,
                UnitStatus.EN_ROUTE,
            ):
                await self._set_status(
                    tx,
                    res,
                    UnitStatus.AVAILABLE,
                    actor=actor,
                    incident=inc,
                    evidence={"stand_down": inc.reference},
                )
        return count

    async def close(self, ref: str, *, actor: str, lessons: str | None = None) -> Incident:
        async with self.core.store.write() as tx:
            inc = await tx.get_incident(ref, for_update=True)
            if lessons is not None:
                inc.lessons = lessons
            await self.incidents.move(tx, inc, S.CLOSED, actor=actor)
            for d in await tx.deliveries_for_incident(inc.id):
                if d.completed_at is None and d.purpose is not Purpose.STAND_DOWN:
                    await ledger.finish(
                        tx, d, "cancelled", now=self.core.clock.now(), reason="incident closed"
                    )
            await tx.record(
                "incident.review_ready",
                incident=inc,
                actor=actor,
                data={"review": f"/api/v1/incidents/{inc.reference}/review"},
            )
        return inc
