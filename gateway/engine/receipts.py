"""Delivery reports from the channels (receipts, and evidence that comes after a send), and the
ones that overtook the record of their own send, parked until it is written."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from adapters.base import AttemptEvidence
from gateway.engine.reports import Report, add_evidence, apply_report
from gateway.engine.sending import Outcome

if TYPE_CHECKING:
    from gateway.engine.engine import DeliveryEngine

log = logging.getLogger(__name__)
# A receipt can overtake the record of its own send (outcomes are written in batches): such a
# report waits this long for its channel reference to be stored before it counts as unmatched.
PARK_SECONDS = 30.0


class Receipts:
    def __init__(self, engine: DeliveryEngine) -> None:
        self.engine = engine
        # (channel, channel_ref) -> (expires at, the report or evidence waiting for its send)
        self.parked: dict[tuple[str, str], tuple[float, Report]] = {}

    async def on_reports(self, channel: str, reports: Sequence[Report]) -> list[str]:
        """Receipts (and later evidence, `AttemptEvidence`) from one channel, in one transaction:
        each "matched", or "parked" until its send is recorded (a receipt can overtake the record
        of its own send)."""
        engine = self.engine
        results: list[str] = []
        async for attempt in engine.store.retrying(urgent=True):
            async with attempt as tx:
                results.clear()
                found = await tx.attempts_by_channel_refs(channel, {r.channel_ref for r in reports})
                batch = await tx.batch_for(list(found.values()))
                caps = engine.channels[channel].capabilities if channel in engine.channels else None
                now = engine.clock.now()
                for r in reports:
                    if r.channel_ref not in found:
                        self.parked[(channel, r.channel_ref)] = (now + PARK_SECONDS, r)
                        results.append("parked")
                        continue
                    a = batch.by_id[found[r.channel_ref].id]
                    d = batch.deliveries[a.delivery_id]
                    if isinstance(r, AttemptEvidence):
                        await add_evidence(tx, d, a, r, now=now)
                    else:
                        await apply_report(
                            tx, d, a, r, caps=caps, attempts=batch.attempts[d.id], now=now, engine=engine
                        )
                    results.append("matched")
        return results

    async def apply_parked(self, batch: list[Outcome]) -> None:
        """Receipts that arrived before their send was recorded are applied now, one transaction
        per channel (a bulk callout's radios ack before most of their sends are recorded)."""
        by_channel: dict[str, list[Report]] = {}
        for o in batch:
            if o.receipt and o.receipt.channel_ref:
                parked = self.parked.pop((o.channel, o.receipt.channel_ref), None)
                if parked is not None:
                    by_channel.setdefault(o.channel, []).append(parked[1])
        for channel, reports in by_channel.items():
            try:
                await self.on_reports(channel, reports)
            except Exception:
                log.exception("engine: could not apply %d parked receipts on %s", len(reports), channel)

    def expire(self, now: float) -> None:
        for key, (expires, _report) in list(self.parked.items()):
            if expires <= now:
                del self.parked[key]
                self.engine.metrics.garbled.labels(key[0]).inc()
                log.warning("channel %s: report or evidence for %s matches no message", key[0], key[1])
