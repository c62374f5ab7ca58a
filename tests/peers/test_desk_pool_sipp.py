"""The desk past four calls: forty sipp callers held at once on one SIP address, through the
front and ten desk worker processes; a worker killed with SIGKILL mid-call loses no call."""

from __future__ import annotations

import asyncio
import os
import signal

from adapters.cti import CallAnswered, CallEnded
from simulators.sip_calls import Caller, SippCalls
from tests.support.cti import Recorder as CtiRecorder
from tests.support.sip import desk


class Recorder(CtiRecorder):
    timeout = 20.0


async def test_forty_calls_held_at_once_are_forty_answered_calls_and_a_killed_worker_loses_none() -> None:
    callers = [Caller(f"0770011{i:04d}", f"Held {i}") for i in range(40)]
    async with desk(workers=10) as source, Recorder(source) as rec:
        to = f"sip:000@127.0.0.1:{source.local_port}"  # type: ignore[attr-defined]
        async with SippCalls(to=to, callers=callers, rate=40, limit=40, hold_ms=4000) as sipp:
            answered = await rec.until(CallAnswered, 40)
            victim = source.workers[0]  # type: ignore[attr-defined]
            held = set(victim.open_calls)
            assert len(held) == 4
            os.kill(victim.pid, signal.SIGKILL)
            await asyncio.wait_for(sipp.wait(), 30)
        async with asyncio.timeout(15):
            while len(rec.of(CallEnded)) < 40:
                await asyncio.sleep(0.05)
        assert len({e.call_id for e in answered}) == 40  # forty calls, forty incidents
        ended = {e.call_id: e for e in rec.of(CallEnded)}
        assert {cid for cid, e in ended.items() if e.reason == "worker lost"} == held
        assert all(ended[cid].reason == "hangup" for cid in ended.keys() - held)
        # The pool recovers: the worker is started again and takes calls.
        async with asyncio.timeout(10):
            while victim.port is None:
                await asyncio.sleep(0.05)
        assert victim.starts == 2 and source.health.state == "up"
        more = [Caller(f"0770022{i:04d}", f"After {i}") for i in range(40)]
        async with SippCalls(to=to, callers=more, rate=40, limit=40, hold_ms=300) as again:
            await rec.until(CallAnswered, 80)
            assert await asyncio.wait_for(again.wait(), 30) == 0, again.stderr
