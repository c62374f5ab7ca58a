"""Acknowledgements and replies from resources: desk acks, structured field acks (a message id),
and parsed text replies (the grammar in gateway/replies.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.domain.models import Attempt, Delivery, Incident
from gateway.domain.states import (
    ENDED_EARLY,
    CloseReason,
    DeliveryOutcome,
    IncidentState,
    Purpose,
    RecipientKind,
    UnitStatus,
)
from gateway.engine import ledger
from gateway.errors import Conflict, NotFound
from gateway.replies import Reply, ReplyKind
from gateway.services.core import Core
from gateway.services.incidents import IncidentService
from gateway.services.unit_status import UnitStatusService
from gateway.store import Tx

S = IncidentState
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


class AckService:
    def __init__(self, core: Core, incidents: IncidentService, units: UnitStatusService) -> None:
        self.core = core
        self.incidents = incidents
        self.units = units

    async def acknowledge(
        self, ref: str, resource_id: str | None, *, actor: str, evidence: dict[str, Any] | None = None
    ) -> list[Delivery]:
        """A desk acknowledgement (e.g. the unit answered on voice radio)."""
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                inc = await tx.get_incident(ref, for_update=True)
                targets = [
                    d
                    for d in await tx.deliveries_for_incident(inc.id, for_update=True)
                    if d.purpose is Purpose.DISPATCH
                    and d.acknowledged_at is None
                    and d.outcome not in ENDED_EARLY
                    and (resource_id is None or d.recipient_id == resource_id)
                ]
                if not targets:
                    raise Conflict(
                        f"{ref}: no dispatch awaiting acknowledgement"
                        + (f" from {resource_id}" if resource_id else "")
                    )
                for d in targets:
                    await self.ack_in(
                        tx, inc, d, via=None, actor=actor, evidence={"source": "desk", **(evidence or {})}
                    )
        self.core.engine.poke()
        return targets

    async def ack_in(
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
        """Acknowledge one delivery inside the caller's transaction; the first ack of a dispatched
        incident moves it to acknowledged."""
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
        async for attempt in self.core.store.retrying(urgent=True):
            async with attempt as tx:
                batch = await tx.batch_for(await tx.attempts_by_ids({k.attempt_id for k in acks}))
                deliveries = batch.deliveries
                incidents = await tx.incidents_by_ids({d.incident_id for d in deliveries.values()})
                resources = await tx.resources_by_ids(
                    {
                        d.recipient_id
                        for d in deliveries.values()
                        if d.recipient_kind is RecipientKind.RESOURCE
                    }
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
                    await self.ack_in(
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
        async for attempt in self.core.store.retrying(urgent=True):
            async with attempt as tx:
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
                        await self.units.set_in(
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
                d = (await tx.deliveries_by_ids({d.id}, for_update=True))[d.id]  # fresh, locked
                if reply.kind is ReplyKind.DECLINE:
                    await ledger.finish(
                        tx,
                        d,
                        DeliveryOutcome.DECLINED,
                        now=self.core.clock.now(),
                        reason=CloseReason.DECLINED,
                    )
                    res = await tx.get_resource(resource_id)
                    await self.units.set_in(
                        tx, res, UnitStatus.AVAILABLE, actor=actor, incident=inc, evidence=evidence
                    )
                    return "declined"
                # EN ROUTE and ON SCENE imply an ack; only a repeated ACK is recorded as a duplicate.
                if reply.kind is ReplyKind.ACK or (
                    reply.kind in (ReplyKind.EN_ROUTE, ReplyKind.ON_SCENE) and d.acknowledged_at is None
                ):
                    await self.ack_in(tx, inc, d, via=via, actor=actor, evidence=evidence)
                if reply.kind in REPLY_STATUS:
                    res = await tx.get_resource(resource_id)
                    await self.units.set_in(
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
