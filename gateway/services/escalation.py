"""Escalation: an incident dispatched and not acknowledged climbs its priority's levels.

Levels come from config (`[escalation.levels]`): after N seconds without an acknowledgement,
notify a stakeholder group, dispatch more resources, or re-page everyone not yet acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict

from gateway.domain.models import Incident
from gateway.domain.states import ENDED_EARLY, Purpose
from gateway.policies.escalation import due_levels
from gateway.services import messages
from gateway.services.core import Core
from gateway.services.dispatch import DispatchService
from gateway.store import Tx
from gateway.triage import classify, recommend

log = logging.getLogger(__name__)


class EscalationService:
    def __init__(self, core: Core, dispatch: DispatchService) -> None:
        self.core = core
        self.dispatch = dispatch
        # Several nodes: True on the one node that runs the sweeps (gateway/cluster/timers.py).
        self.leader: Callable[[], bool] | None = None

    async def run(self) -> None:
        """Check every `check_interval` seconds, until cancelled."""
        while True:
            try:
                if self.leader is None or self.leader():
                    await self.check()
            except Exception:
                log.exception("escalation check failed; trying again next interval")
            await self.core.clock.sleep(self.core.settings.escalation.check_interval)

    async def check(self) -> int:
        """Run every level that has come due. Returns how many levels ran."""
        ran = 0
        now = self.core.clock.now()
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                for inc in await tx.incidents_awaiting_ack():
                    levels = self.core.settings.escalation.levels.get(inc.priority) if inc.priority else None
                    if not levels or inc.dispatched_at is None:
                        continue
                    for index in due_levels(
                        levels, dispatched_at=inc.dispatched_at, now=now, done=inc.escalation_level
                    ):
                        await self._run_level(tx, inc, index)
                        ran += 1
        if ran:
            self.core.engine.poke()
            await asyncio.sleep(0)
        return ran

    async def _run_level(self, tx: Tx, inc: Incident, index: int) -> None:
        assert inc.priority is not None
        level = self.core.settings.escalation.levels[inc.priority][index]
        actor = "escalation"
        detail: dict[str, object] = {"level": index + 1, "action": level.action, "after": level.after}
        if level.action == "notify":
            text = messages.escalation_text(inc, index + 1, level.after)
            detail["notified"] = await self.dispatch.notify(
                tx, inc, level.target, text, actor=actor, reason="escalation"
            )
            detail["group"] = level.target
        elif level.action == "dispatch_more":
            busy = {
                d.recipient_id
                for d in await tx.deliveries_for_incident(inc.id)
                if d.purpose is Purpose.DISPATCH
            }
            _, caps = classify(
                inc.category,
                self.core.settings.triage.rules,
                self.core.settings.triage.default_classification,
            )
            recs = recommend(
                await tx.list_resources(),
                capabilities=caps,
                priority=inc.priority,
                count=level.count,
                exclude=busy | self.core.maintenance.resources_out(self.core.clock.now()),
                scene=self.dispatch.incidents.scene(inc.lat, inc.lon),
            )
            detail["recommendation"] = [asdict(r) for r in recs]
            if recs:
                await self.dispatch.dispatch_in(
                    tx, inc, [r.resource_id for r in recs], actor=actor, reason="escalation"
                )
        else:
            detail["repaged"] = await self._repage(tx, inc)
        inc.escalation_level = index + 1
        await tx.update_incident(inc)
        await tx.record("incident.escalated", incident=inc, actor=actor, data=detail)
        log.warning("%s escalated to level %d (%s)", inc.reference, index + 1, level.action)

    async def _repage(self, tx: Tx, inc: Incident) -> int:
        """Start the contact plan again for every dispatch not yet acknowledged and not under way."""
        count = 0
        now = self.core.clock.now()
        for d in await tx.deliveries_for_incident(inc.id):
            if d.purpose is not Purpose.DISPATCH or d.acknowledged_at is not None:
                continue
            if d.outcome in ENDED_EARLY:
                continue
            if d.completed_at is None:
                continue  # still working through its plan
            d.completed_at = None
            d.outcome = None
            d.next_endpoint = 0
            d.round += 1
            d.updated_at = now
            await tx.update_delivery(d)
            await tx.record(
                "delivery.repage", incident=inc, delivery_id=d.id, data={"delivery": d.id, "round": d.round}
            )
            await self.core.engine.advance(tx, d)
            count += 1
        return count
