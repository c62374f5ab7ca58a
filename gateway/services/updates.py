"""Stakeholder updates (`[updates]`): each configured stakeholder group hears, in its own wording,
when an incident of its priorities is opened (first triaged), dispatched, on scene, resolved and
closed, and every `every` seconds while it stays open.

An update is informational: one delivery per member through the delivery engine (outbox,
fallback along the member's contact plan, audit), `needs_ack` false. "Sent" means what it means
for any delivery: the channel accepted the message (`delivered` once a receipt says so); nothing
waits for an ack, so an unanswered update never escalates and never holds a ladder. Each update
is one row of `stakeholder_updates` (the stage, the group, the dispatch carrying it) and one audit
event `stakeholder.updated`; the review lists them. The timer runs on one node of a cluster (the
advisory-lock timers, gateway/cluster/timers.py), like the escalation sweeps."""

from __future__ import annotations

import logging
from collections.abc import Callable

from gateway.domain.models import Incident
from gateway.domain.states import OPEN_INCIDENT_STATES, IncidentState, Purpose
from gateway.services.core import Core
from gateway.services.dispatch import DispatchService
from gateway.settings_updates import Stage, UpdateGroup
from gateway.store import Tx

log = logging.getLogger(__name__)
S = IncidentState
STAGE_OF: dict[IncidentState, Stage] = {
    S.TRIAGED: Stage.OPENED,
    S.DISPATCHED: Stage.DISPATCHED,
    S.ON_SCENE: Stage.ON_SCENE,
    S.RESOLVED: Stage.RESOLVED,
    S.CLOSED: Stage.CLOSED,
}


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, inc: Incident) -> str:
    """The template with the incident's fields; a field not known yet is left out. The engine
    fits the result to each channel's length (gateway/policies/fitting.py)."""
    values = _Blank(
        ref=inc.reference,
        priority=inc.priority.value if inc.priority else "",
        category=(inc.category or "").upper(),
        location=inc.location or "unknown location",
        state=inc.state.value.replace("_", " "),
        summary=inc.nature or "",
    )
    return " ".join(template.format_map(values).split())


class StakeholderUpdates:
    def __init__(self, core: Core, dispatch: DispatchService) -> None:
        self.core = core
        self.dispatch = dispatch
        self.settings = core.settings.updates
        # Several nodes: True on the one node that runs the timers (gateway/cluster/timers.py).
        self.leader: Callable[[], bool] | None = None

    def _groups(self, inc: Incident) -> list[UpdateGroup]:
        return [g for g in self.settings.groups if inc.priority is not None and inc.priority in g.priorities]

    async def on_transition(
        self, tx: Tx, inc: Incident, previous: IncidentState, target: IncidentState
    ) -> None:
        """An IncidentService hook: tell the groups that listen for this stage."""
        stage = STAGE_OF.get(target)
        if stage is None or previous is target:
            return
        for group in self._groups(inc):
            if stage in group.stages:
                await self.send(tx, inc, group, stage)

    async def send(self, tx: Tx, inc: Incident, group: UpdateGroup, stage: Stage) -> int:
        """One update to every member of the group, in the caller's transaction."""
        text = render(group.template(stage, self.settings.templates), inc)
        count, dispatch_id = await self.dispatch.notify_group(
            tx,
            inc,
            group.group,
            text,
            actor="updates",
            reason=f"update:{stage.value}",
            purpose=Purpose.UPDATE,
        )
        if dispatch_id is None:
            return 0
        now = self.core.clock.now()
        await tx.insert_update(
            inc.id, group.group, stage.value, at=now, dispatch_id=dispatch_id, recipients=count
        )
        await tx.record(
            "stakeholder.updated",
            incident=inc,
            actor="updates",
            at=now,
            data={"group": group.group, "stage": stage.value, "recipients": count, "text": text},
        )
        tx.after_commit(self.core.engine.poke)
        return count

    async def run(self) -> None:
        """Look for timed updates every `check_interval` seconds, until cancelled."""
        while True:
            try:
                if self.leader is None or self.leader():
                    await self.check()
            except Exception:
                log.exception("stakeholder update check failed; trying again next interval")
            await self.core.clock.sleep(self.settings.check_interval)

    async def check(self) -> int:
        """Send every timed update that has come due. Returns how many groups were told."""
        timed = [g for g in self.settings.groups if g.every]
        if not timed:
            return 0
        sent = 0
        now = self.core.clock.now()
        priorities = sorted({p for g in timed for p in g.every})
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                sent = 0
                incidents = await tx.open_incidents_of(priorities)
                last = await tx.last_updates([i.id for i in incidents])
                for inc in incidents:
                    if inc.state not in OPEN_INCIDENT_STATES or inc.priority is None:
                        continue
                    for group in timed:
                        every = group.every.get(inc.priority)
                        since = last.get((inc.id, group.group), inc.triaged_at or inc.created_at)
                        if every is not None and now - since >= every:
                            await self.send(tx, inc, group, Stage.TIMER)
                            sent += 1
        return sent
