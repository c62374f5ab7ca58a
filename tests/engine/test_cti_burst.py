"""A burst of call events is applied in one transaction by the CTI pump, in order, and one event
the store refuses loses none of the others (gateway/services/cti.py `pump`)."""

from __future__ import annotations

import time
from pathlib import Path

from adapters.cti import CallAnswered, CallEnded, CallOffered, CtiSource
from gateway.app import Gateway
from gateway.settings import Settings
from tests.support.waiting import until


def call(n: int, name: str = "Caller") -> dict[str, object]:
    return {
        "call_id": f"burst-{n}",
        "at": time.time(),
        "caller": f"0770044{n:04d}",
        "caller_name": name,
        "called": "999",
        "desk": "desk-1",
        "source": "burst",
    }


async def test_a_burst_of_calls_is_applied_together_and_a_bad_event_loses_no_other(tmp_path: Path):
    source = CtiSource(name="burst")
    for n in range(30):  # queued before the pump starts: its first batches hold them all
        c = call(n)
        source.emit(CallOffered(**c))  # type: ignore[arg-type]
        source.emit(CallAnswered(**c))  # type: ignore[arg-type]
        if n == 12:  # text SQLite cannot store (a lone surrogate): this insert fails
            source.emit(CallAnswered(**call(99, "bad \ud800")))  # type: ignore[arg-type]
        source.emit(CallEnded(**c))  # type: ignore[arg-type]
    settings = Settings(store={"url": f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"})
    async with Gateway(settings, cti_sources={"burst": source}) as gw, gw.running():

        async def ended() -> bool:
            async with gw.store.read() as tx:
                incs = [await tx.incident_by_call_id(f"burst-{n}") for n in range(30)]
            return all(i is not None and i.call_ended_at is not None for i in incs)

        await until(ended, "thirty incidents with the end of their call", timeout=20)
        async with gw.store.read() as tx:
            incs = [await tx.incident_by_call_id(f"burst-{n}") for n in range(30)]
            bad = await tx.incident_by_call_id("burst-99")
            audit = await tx.audit_since(0, 10_000)
    assert [i.caller_number for i in incs if i is not None] == [f"0770044{n:04d}" for n in range(30)]
    assert bad is None
    assert not [r for r in audit if r["kind"] == "call.abandoned"]  # answered, then ended: not abandoned
    assert len([r for r in audit if r["kind"] == "call.ended"]) == 30
    assert len({i.reference for i in incs if i is not None}) == 30
