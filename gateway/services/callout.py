"""Bulk callout: one request pages a whole group of units for an incident (a major incident).

The group is chosen from the resource directory in memory (by capability, by a list of ids, or by
a talkgroup address in their contact plans) or is a stakeholder group. Every delivery is written
in one transaction, in unit-id order, with the same per-unit tracking, acks and stand-down as a
dispatch; the engine then fans the sends out in batches. Units that cannot be paged (unavailable,
out of service, already paged for this incident) are skipped and listed, not refused."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from gateway.domain.states import ENDED_EARLY, NOT_DISPATCHABLE, Purpose
from gateway.errors import Conflict, ValidationFailed
from gateway.services import messages
from gateway.services.core import Core
from gateway.services.dispatch import DispatchService

Selector = Literal["capability", "resources", "talkgroup", "stakeholder_group"]


@dataclass(frozen=True, slots=True)
class Selection:
    by: Selector
    value: str | list[str]


@dataclass
class CalloutResult:
    incident: str
    selected: list[str] = field(default_factory=list)  # units paged (or stakeholders notified)
    skipped: list[dict[str, str]] = field(default_factory=list)
    dispatch_id: int | None = None


class CalloutService:
    def __init__(self, core: Core, dispatch: DispatchService) -> None:
        self.core = core
        self.dispatch = dispatch

    def candidates(self, selection: Selection) -> list[str]:
        """Unit ids the selection names, from the directory (no read of every resource row)."""
        directory = self.core.directory
        if selection.by == "resources":
            assert isinstance(selection.value, list)
            unknown = [rid for rid in selection.value if directory.get(rid) is None]
            if unknown:
                raise ValidationFailed({"resources": f"unknown resource {unknown[0]!r}"})
            return sorted(set(selection.value))
        assert isinstance(selection.value, str)
        if selection.by == "capability":
            wanted = selection.value.strip().casefold()
            found = [
                r.id for r in directory.all() if wanted in {c.strip().casefold() for c in r.capabilities}
            ]
        else:  # a talkgroup: the units whose contact plan reaches that group address
            found = [
                r.id for r in directory.all() if any(e.address == selection.value for e in r.contact_plan)
            ]
        if not found:
            raise ValidationFailed({selection.by: f"no resource matches {selection.value!r}"})
        return found

    async def callout(self, ref: str, selection: Selection, *, actor: str) -> CalloutResult:
        started = time.perf_counter()
        if selection.by == "stakeholder_group":
            return await self._notify(ref, str(selection.value), actor=actor)
        wanted = self.candidates(selection)
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                result = CalloutResult(incident=ref)
                inc = await tx.get_incident(ref, for_update=True)
                units = await tx.resources_by_ids(wanted)  # only the chosen rows, re-checked here
                paged = {
                    d.recipient_id
                    for d in await tx.deliveries_for_incident(inc.id)
                    if d.purpose is Purpose.DISPATCH and d.outcome not in ENDED_EARLY
                }
                for rid in wanted:
                    if rid in paged:
                        result.skipped.append({"resource": rid, "reason": "already paged for this incident"})
                    elif units[rid].status in NOT_DISPATCHABLE:
                        result.skipped.append({"resource": rid, "reason": units[rid].status.value})
                    else:
                        result.selected.append(rid)
                if not result.selected:
                    raise Conflict(f"{ref}: none of the {len(wanted)} selected units can be paged")
                deliveries = await self.dispatch.dispatch_in(
                    tx, inc, result.selected, actor=actor, reason="callout"
                )
                result.dispatch_id = deliveries[0].dispatch_id
        self.core.metrics.decision_seconds.observe(time.perf_counter() - started)
        self.core.engine.poke()
        return result

    async def _notify(self, ref: str, group: str, *, actor: str) -> CalloutResult:
        members = [s.id for s in self.core.stakeholders if group in s.groups]
        if not members:
            raise ValidationFailed({"stakeholder_group": f"no stakeholder is in group {group!r}"})
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                inc = await tx.get_incident(ref, for_update=True)
                await self.dispatch.notify(
                    tx, inc, group, messages.dispatch_text(inc), actor=actor, reason="callout"
                )
        self.core.engine.poke()
        return CalloutResult(incident=ref, selected=members)
