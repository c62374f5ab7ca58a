"""The desk past four calls, through a running gateway: sipp callers on one SIP address, the
front and ten desk worker processes, incidents in the store. Forty calls held for 30 s (the
suite's one long test) are forty incidents with their callers and call times, every call up for
the whole hold; a worker killed with SIGKILL mid-call loses no incident and the pool recovers."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.cti import CtiSource
from gateway.app import Gateway
from gateway.domain.models import Incident
from gateway.settings import Settings
from simulators.sip_calls import Caller, SippCalls, Traced
from tests.support.sip import desk
from tests.support.waiting import until

HOLD = 30.0


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[tuple[Gateway, CtiSource, str]]:
    source = desk(workers=10)
    settings = Settings(store={"url": f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"})
    async with Gateway(settings, cti_sources={"desk": source}) as gw, gw.running():
        yield gw, source, f"sip:000@127.0.0.1:{source.local_port}"  # type: ignore[attr-defined]


def invites_answered(messages: list[Traced]) -> dict[str, float]:
    """Call-ID -> when sipp received the 200 OK to its INVITE."""
    return {
        str(m.header("Call-ID")): m.at
        for m in messages
        if m.direction == "received"
        and m.first_line.startswith("SIP/2.0 200 ")
        and (m.header("CSeq") or "").endswith("INVITE")
    }


async def incidents_ended(gw: Gateway, call_ids: list[str]) -> dict[str, Incident]:
    """The incidents of these calls whose end is recorded, by call id."""
    out: dict[str, Incident] = {}
    async with gw.store.read() as tx:
        for cid in call_ids:
            inc = await tx.incident_by_call_id(cid)
            if inc is not None and inc.call_ended_at is not None:
                out[cid] = inc
    return out


async def test_forty_desk_calls_held_for_thirty_seconds_make_forty_incidents(pool) -> None:
    gw, source, to = pool
    callers = [Caller(f"0770033{i:04d}", f"Held {i}") for i in range(40)]
    hold_ms = int(HOLD * 1000)
    async with SippCalls(to=to, callers=callers, rate=40, limit=40, hold_ms=hold_ms, trace=True) as sipp:
        assert await asyncio.wait_for(sipp.wait(), HOLD + 60) == 0, sipp.stderr
        messages = sipp.messages()
    answered = invites_answered(messages)
    assert len(answered) == 40, f"{len(answered)} of 40 calls answered"
    received = [m.first_line for m in messages if m.direction == "received"]
    assert not [line for line in received if line.startswith("SIP/2.0 486")], "a caller was refused busy"
    assert not [line for line in received if line.startswith("BYE ")], "the desk hung up a held call"
    byes = {
        str(m.header("Call-ID")): m.at
        for m in messages
        if m.direction == "sent" and m.first_line.startswith("BYE ")
    }
    assert byes.keys() == answered.keys()  # every call ended by its caller, after the hold
    assert all(byes[cid] - answered[cid] >= HOLD - 0.5 for cid in answered)
    numbers = {
        str(m.header("Call-ID")): str(m.header("From")).split("sip:", 1)[1].split("@", 1)[0]
        for m in messages
        if m.direction == "sent" and m.first_line.startswith("INVITE ")
    }

    found: dict[str, Incident] = {}

    async def all_ended() -> bool:
        found.update(await incidents_ended(gw, list(answered)))
        return len(found) == 40

    await until(all_ended, "forty incidents with the end of their call", timeout=20)
    assert sorted(inc.caller_number or "" for inc in found.values()) == sorted(c.number for c in callers)
    for cid, inc in found.items():
        assert inc.caller_number == numbers[cid] and inc.source == "call"
        assert inc.call_answered_at is not None and inc.call_ended_at is not None
        assert inc.call_ended_at - inc.call_answered_at >= HOLD - 0.5, (cid, inc)
    assert len({inc.reference for inc in found.values()}) == 40
    assert [w.starts for w in source.workers] == [1] * 10  # type: ignore[attr-defined]  # no worker lost


async def test_a_desk_worker_killed_mid_call_loses_no_incident_and_the_pool_recovers(pool) -> None:
    gw, source, to = pool
    callers = [Caller(f"0770011{i:04d}", f"Held {i}") for i in range(40)]
    async with SippCalls(to=to, callers=callers, rate=40, limit=40, hold_ms=4000, trace=True) as sipp:
        victim = source.workers[0]  # type: ignore[attr-defined]
        await until(lambda: len(victim.open_calls) == 4, "four calls up on worker 0", timeout=20)
        held = set(victim.open_calls)
        os.kill(victim.pid, signal.SIGKILL)
        await asyncio.wait_for(sipp.wait(), 30)
        answered = invites_answered(sipp.messages())
    assert held <= answered.keys() and len(answered) == 40

    async def all_ended() -> bool:
        return len(await incidents_ended(gw, list(answered))) == 40

    await until(all_ended, "forty incidents, the killed worker's too, with the end of their call", timeout=20)
    async with gw.store.read() as tx:
        lost = {cid: await tx.incident_by_call_id(cid) for cid in held}
    assert all(inc is not None and inc.caller_number for inc in lost.values())
    # The pool recovers: the worker is started again and takes calls.
    await until(lambda: victim.port is not None, "worker 0 started again", timeout=10)
    assert victim.starts == 2 and source.health.state == "up"
    more = [Caller(f"0770022{i:04d}", f"After {i}") for i in range(40)]
    async with SippCalls(to=to, callers=more, rate=40, limit=40, hold_ms=300, trace=True) as again:
        assert await asyncio.wait_for(again.wait(), 30) == 0, again.stderr
        assert len(invites_answered(again.messages())) == 40
