"""The CTI service: a call picked up at the desk becomes an incident before the dispatcher speaks.

`CallAnswered` creates the incident (source `call`, caller as personal data, the call id) and
publishes a screen-pop with the caller's recent incidents; a repeat call from the same number
while an incident from it is open (within `cti.repeat_window`) is linked to it instead, or to the
incident it was merged into (gateway/services/merge.py). `CallEnded`
records handling time per desk; a call never answered is recorded as abandoned.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace
from typing import Any

from adapters.cti import CallAnswered, CallEnded, CallOffered, CtiEvent, CtiSource
from gateway.domain.personal import mask_number
from gateway.services.core import Core
from gateway.services.incidents import IncidentService
from gateway.store import Tx

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Call:
    source: str
    offered: CallOffered | None = None
    answered_at: float | None = None
    incident: str | None = None


class CtiService:
    def __init__(self, core: Core, incidents: IncidentService) -> None:
        self.core = core
        self.incidents = incidents
        self._calls: dict[str, _Call] = {}  # calls in progress, by call id
        self._handling: dict[str, tuple[float, int]] = {}  # desk -> (total seconds, calls)
        self._seen: dict[str, float] = {}  # webhook event id -> when it was received

    async def pump(self, source: CtiSource) -> None:
        """Consume one source's call events until cancelled; a bad event never stops the pump.

        Whatever is waiting is applied in one transaction, in order: a burst of calls is one
        commit, not three a call (each a WAL sync), so the desk keeps up at 100 calls/s. If that
        transaction fails, the calls in progress are put back as they were and the events are
        applied one by one, so one bad event loses no other."""
        async for batch in source.event_batches(64):
            if len(batch) > 1 and await self._batch(source.name, batch):
                continue
            for event in batch:
                try:
                    await self.handle(event)
                except Exception:
                    log.exception("cti %s: could not handle %s", source.name, type(event).__name__)

    async def _batch(self, name: str, batch: list[CtiEvent]) -> bool:
        saved = {call_id: replace(call) for call_id, call in self._calls.items()}
        try:
            async with self.core.store.write() as tx:
                for event in batch:
                    await self._apply(tx, event)
        except Exception:
            log.exception("cti %s: %d call events failed together; one by one now", name, len(batch))
            self._calls = saved
            return False
        return True

    async def handle(self, event: CtiEvent) -> dict[str, Any]:
        async with self.core.store.write() as tx:
            return await self._apply(tx, event)

    async def _apply(self, tx: Tx, event: CtiEvent) -> dict[str, Any]:
        if isinstance(event, CallOffered):
            return await self._offered(tx, event)
        if isinstance(event, CallAnswered):
            return await self._answered(tx, event)
        return await self._ended(tx, event)

    def first_sighting(self, event_id: str, now: float) -> bool:
        """Replay protection for webhooks: True the first time an event id is seen in the window."""
        window = self.core.settings.cti.replay_window
        for old in [k for k, seen in self._seen.items() if now - seen > window]:
            del self._seen[old]
        if event_id in self._seen:
            return False
        self._seen[event_id] = now
        return True

    def source_of(self, call_id: str) -> str | None:
        call = self._calls.get(call_id)
        return call.source if call else None

    async def _offered(self, tx: Tx, e: CallOffered) -> dict[str, Any]:
        self._calls.setdefault(e.call_id, _Call(source=e.source)).offered = e
        await tx.record("call.offered", at=e.at, actor=f"cti:{e.source}", data=_call_data(e))
        return {"result": "offered"}

    async def _answered(self, tx: Tx, e: CallAnswered) -> dict[str, Any]:
        call = self._calls.setdefault(e.call_id, _Call(source=e.source))
        if call.incident is not None:
            return {"result": "duplicate", "incident": call.incident}
        window_start = e.at - self.core.settings.cti.repeat_window
        existing = await tx.incident_by_call_id(e.call_id)
        if existing is not None:  # the same call reported again (e.g. AMI resync after a reconnect)
            call.incident, call.answered_at = existing.reference, existing.call_answered_at or e.at
            return {"result": "duplicate", "incident": existing.reference}
        linked = await tx.open_incident_for_caller(e.caller, window_start) if e.caller else None
        reason = "repeat call while the incident is open"
        if linked is None and e.caller:  # the caller's incident was merged into another
            linked = await tx.survivor_for_caller(e.caller, window_start)
            reason = "repeat call; the caller's incident was merged into this one"
        if linked is not None:
            inc = linked
            await tx.record(
                "call.linked",
                incident=inc,
                at=e.at,
                actor=f"cti:{e.source}",
                data={**_call_data(e), "reason": reason},
            )
            result = "linked"
        else:
            inc = await self.incidents.create(
                {
                    "caller_number": e.caller,
                    "caller_name": e.caller_name,
                    "called_number": e.called,
                    "desk": e.desk,
                    "call_id": e.call_id,
                    "call_answered_at": e.at,
                },
                source="call",
                actor=f"cti:{e.source}",
                tx=tx,
            )
            result = "created"
        recent = await tx.incidents_by_caller(e.caller, limit=6) if e.caller else []
        await tx.record(
            "call.screen_pop",
            incident=inc,
            at=e.at,
            actor=f"cti:{e.source}",
            data={
                **_call_data(e),
                "result": result,
                "recent": [
                    {
                        "reference": r.reference,
                        "state": r.state.value,
                        "nature": r.nature,
                        "created_at": r.created_at,
                    }
                    for r in recent
                    if r.id != inc.id
                ][:5],
            },
        )
        call.incident, call.answered_at = inc.reference, e.at  # put back as it was if this rolls back
        log.info(
            "call %s from %s answered at %s: %s %s",
            e.call_id,
            mask_number(e.caller),
            e.desk,
            result,
            inc.reference,
        )
        return {"result": result, "incident": inc.reference}

    async def _ended(self, tx: Tx, e: CallEnded) -> dict[str, Any]:
        call = self._calls.pop(e.call_id, None)
        answered = e.answered and (call is None or call.answered_at is not None or call.offered is None)
        if not answered or (call is not None and call.answered_at is None):
            await tx.record(
                "call.abandoned",
                at=e.at,
                actor=f"cti:{e.source}",
                data={**_call_data(e), "reason": e.reason or "hung up before answer"},
            )
            tx.after_commit(self.core.metrics.calls.labels("abandoned").inc)
            return {"result": "abandoned"}
        inc = (
            await tx.get_incident(call.incident)
            if call and call.incident
            else await tx.incident_by_call_id(e.call_id)
        )
        answered_at = (call.answered_at if call else None) or (inc.call_answered_at if inc else None)
        handling = max(0.0, e.at - answered_at) if answered_at is not None else None
        if inc is not None and inc.call_id == e.call_id and inc.call_ended_at is None:
            inc.call_ended_at = e.at
            await tx.update_incident(inc)
        await tx.record(
            "call.ended",
            incident=inc,
            at=e.at,
            actor=f"cti:{e.source}",
            data={**_call_data(e), "handling_seconds": handling},
        )
        tx.after_commit(self.core.metrics.calls.labels("answered").inc)
        if handling is not None:
            tx.after_commit(functools.partial(self._observe_handling, e.desk or "unknown", handling))
        return {"result": "ended", "incident": inc.reference if inc else None, "handling_seconds": handling}

    def _observe_handling(self, desk: str, seconds: float) -> None:
        total, calls = self._handling.get(desk, (0.0, 0))
        total, calls = total + seconds, calls + 1
        self._handling[desk] = (total, calls)
        self.core.metrics.handling_seconds.labels(desk).observe(seconds)
        self.core.metrics.handling_average.labels(desk).set(total / calls)


def _call_data(e: CtiEvent) -> dict[str, Any]:
    """What a call event says, with the caller masked (audit payloads go out on the bus)."""
    return {
        "call_id": e.call_id,
        "caller": mask_number(e.caller),
        "called": e.called,
        "desk": e.desk,
        "source": e.source,
        **({"evidence": e.evidence} if e.evidence else {}),
    }
