"""Inbound traffic from the field: delivery reports, acks, replies, unit status and positions, from every
channel, mapped onto the same events (docs/architecture.md: one acknowledgement grammar)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from adapters.base import (
    AttemptEvidence,
    Channel,
    ChannelEvent,
    DeliveryReport,
    InboundText,
    PositionReport,
    RadioAck,
    UnitStatusReport,
)
from gateway.domain.personal import mask_number
from gateway.domain.states import UnitStatus
from gateway.errors import CalloutError
from gateway.replies import Reply, ReplyKind, parse_reply
from gateway.services.acks import AckService, FieldAck
from gateway.services.core import Core
from gateway.services.positions import PositionService
from gateway.services.unit_status import UnitStatusService

log = logging.getLogger(__name__)


class FieldEvents:
    def __init__(
        self, core: Core, acks: AckService, units: UnitStatusService, positions: PositionService
    ) -> None:
        self.core = core
        self.acks = acks
        self.units = units
        # A text from an address that is no unit's: (channel, address, text) -> what it did, or
        # None when nothing wanted it (the caller's survey reply, gateway/services/survey.py).
        self.from_others: Callable[[str, str, str], Awaitable[str | None]] | None = None
        self.positions = positions

    async def pump(self, channel: Channel) -> None:
        """Consume one channel's inbound events until cancelled. A bad event never stops the pump.

        Whatever is waiting is applied together: every delivery report (and `AttemptEvidence`) in
        one transaction, then every ack that names its message in one more (a radio's receipt and
        its ack usually arrive as a pair, and a callout brings hundreds of pairs at once);
        everything else one event at a time, in order. Reports go first, as they happened first.
        What was applied, or refused by a domain rule, is confirmed to the channel with `handled`
        once committed (an MQTT uplink is PUBACKed only then); what could not be stored is not, so
        the peer sends it again."""
        channel.hold_until_handled()
        async for batch in channel.event_batches():
            reports = [e for e in batch if isinstance(e, DeliveryReport | AttemptEvidence)]
            acks = [e for e in batch if isinstance(e, RadioAck) and _names_its_message(e)]
            rest = [
                e
                for e in batch
                if not isinstance(e, DeliveryReport | AttemptEvidence) and not _names_its_message(e)
            ]
            if reports:
                applied = self.core.engine.on_reports(channel.name, reports)
                await self._guarded(channel, "delivery reports", applied, list(reports))
            if acks:
                await self._guarded(channel, "acks", self._acks(channel.name, acks), list(acks))
            for event in rest:
                await self._guarded(channel, type(event).__name__, self.handle(channel.name, event), [event])

    async def _guarded(
        self, channel: Channel, what: str, work: Coroutine[Any, Any, object], events: list[ChannelEvent]
    ) -> None:
        try:
            await work
        except CalloutError as exc:  # the core refused it (a domain rule): sending it again cannot help
            log.warning("channel %s: refused %s: %s", channel.name, what, exc)
        except Exception:  # not stored (the store is away, a bug): the peer sends it again
            log.exception("channel %s: could not handle %s", channel.name, what)
            return
        channel.handled(events)

    async def _acks(self, channel: str, run: list[RadioAck]) -> None:
        acks = [
            FieldAck(int(e.message_id or 0), (channel, e.address), {"channel": channel, **e.evidence})
            for e in run
        ]
        for event, ok in zip(run, await self.acks.ack_attempts(acks), strict=True):
            if not ok:
                await self._resource_ack(channel, event)

    async def handle(self, channel: str, event: ChannelEvent) -> str:
        if isinstance(event, DeliveryReport):
            matched = await self.core.engine.on_report(
                channel,
                event.channel_ref,
                delivered=event.delivered,
                reason=event.reason,
                evidence=event.evidence,
            )
            return "report" if matched == "matched" else "parked"  # the engine counts it if it never matches
        if isinstance(event, AttemptEvidence):
            (matched,) = await self.core.engine.on_reports(channel, [event])
            return "evidence" if matched == "matched" else "parked"
        resource = self.core.resource_at(channel, event.address)
        if isinstance(event, RadioAck):
            if event.message_id is not None and event.message_id.isdigit():
                ok = await self.acks.ack_attempt(
                    int(event.message_id),
                    via=(channel, event.address),
                    evidence={"channel": channel, **event.evidence},
                )
                if ok:
                    return "ack"
            return await self._resource_ack(channel, event)
        if resource is None and isinstance(event, PositionReport):
            return "position of a station not ours"  # APRS: every station on the air beacons
        if resource is None:
            if isinstance(event, InboundText) and self.from_others is not None:
                done = await self.from_others(channel, event.address, event.text)
                if done is not None:
                    return done
            return await self._unmatched(channel, type(event).__name__, event.address)
        if isinstance(event, InboundText):
            reply = parse_reply(event.text)
            if reply is None:
                async for attempt in self.core.store.retrying(urgent=True):
                    async with attempt as tx:
                        await tx.record(
                            "field.unrecognised",
                            actor=f"field:{resource}",
                            data={"resource": resource, "channel": channel, "text": event.text[:160]},
                        )
                return "unrecognised"
            evidence = {"channel": channel, "text": event.text[:160], **event.evidence}
            via = (channel, event.address)
            named = event.message_id if event.message_id and event.message_id.isdigit() else None
            plain_ack = reply.kind is ReplyKind.ACK and reply.reference is None and reply.short_ref is None
            if named and plain_ack and await self.acks.ack_attempt(int(named), via=via, evidence=evidence):
                return "ack"  # the reply named its message (an email token)
            return await self.acks.apply_reply(resource, reply, via=via, evidence=evidence)
        if isinstance(event, UnitStatusReport):
            try:
                status = UnitStatus(event.status)
            except ValueError:
                return await self._unmatched(channel, f"status {event.status!r}", event.address)
            await self.units.set_unit_status(
                resource,
                status,
                actor=f"field:{resource}",
                evidence={"channel": channel, **event.evidence},
                urgent=True,
            )
            return f"status {status.value}"
        if isinstance(event, PositionReport):
            return await self.positions.report(
                resource,
                event.lat,
                event.lon,
                observed_at=event.observed_at,
                source=channel,
                actor=f"field:{resource}",
                evidence=event.evidence,
            )
        return "ignored"

    async def _resource_ack(self, channel: str, event: RadioAck) -> str:
        """An ack that names no message we sent from there: it acknowledges the resource's latest dispatch."""
        resource = self.core.resource_at(channel, event.address)
        if resource is None:
            return await self._unmatched(channel, "ack", event.address)
        return await self.acks.apply_reply(
            resource,
            Reply(ReplyKind.ACK),
            via=(channel, event.address),
            evidence={"channel": channel, **event.evidence},
        )

    async def _unmatched(self, channel: str, what: str, who: str) -> str:
        self.core.metrics.garbled.labels(channel).inc()
        log.warning("channel %s: %s from %s matches nothing", channel, what, mask_number(who))
        return "unmatched"


def _names_its_message(event: ChannelEvent) -> bool:
    """A structured ack naming the message by our numeric attempt id."""
    return isinstance(event, RadioAck) and event.message_id is not None and event.message_id.isdigit()
