"""A call picked up at the desk creates the incident: sipp calls the pjsua2 desk endpoint of a
running gateway, and the incident is read back through the HTTP API."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.sip.channel import build
from gateway.api import ApiServer
from gateway.app import Gateway
from gateway.settings import Settings
from simulators.sip_calls import Caller, SippCalls

TOKEN = "desk-token-0123456789"


@pytest.fixture(autouse=True)
def _tools() -> None:
    if shutil.which("sipp") is None:
        pytest.fail("sipp is not installed: apt-get update && apt-get install -y sip-tester")
    if importlib.util.find_spec("pjsua2") is None:
        pytest.fail("pjsua2 is not installed: pip install 'callout[sip]'")


class Desk:
    def __init__(self, gw: Gateway, api: ApiServer, http: aiohttp.ClientSession) -> None:
        self.gw, self.api, self.http = gw, api, http
        port = gw.cti_sources["desk"].local_port  # type: ignore[attr-defined]
        self.uri = f"sip:999@127.0.0.1:{port}"

    async def incidents(self) -> list[dict[str, Any]]:
        async with self.http.get(
            f"{self.api.url}/api/v1/incidents?state=all&limit=500",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as resp:
            assert resp.status == 200
            body: list[dict[str, Any]] = await resp.json()
            return body

    async def wait_incidents(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(found := await self.incidents()) < count:
                await asyncio.sleep(0.02)
        return found


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    settings = Settings(
        store={"url": f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"},
        api={"tokens": [{"name": "desk-1", "role": "dispatcher", "token": TOKEN}]},
    )
    # The desk rings for a second before it answers, as a person would.
    source = build(
        "desk", {"bind_address": "127.0.0.1", "port": 0, "desk": "desk-1", "answer_delay_ms": 1000}
    )
    async with (
        Gateway(settings, cti_sources={"desk": source}) as gw,
        gw.running(),
        ApiServer(gw, "127.0.0.1", 0) as api,
        aiohttp.ClientSession() as http,
    ):
        yield Desk(gw, api, http)


async def test_the_incident_exists_with_the_exact_caller_number_within_a_second_of_the_200_ok(desk: Desk):
    caller = Caller("07700900123", "Jo Bloggs", asserted="+447700900123")
    async with SippCalls(to=desk.uri, callers=[caller], hold_ms=1500, trace=True) as sipp:
        (inc,) = await desk.wait_incidents(1)
        seen = time.time()
        assert await sipp.wait() == 0, sipp.stderr
        messages = sipp.messages()
    ok = next(
        m
        for m in messages
        if m.direction == "received"
        and m.first_line.startswith("SIP/2.0 200 ")
        and (m.header("CSeq") or "").endswith("INVITE")
    )
    assert seen - ok.at < 1.0, f"incident visible {seen - ok.at:.3f}s after the 200 OK"
    assert (inc["source"], inc["caller_number"], inc["caller_name"]) == ("call", "+447700900123", "Jo Bloggs")
    assert inc["call_id"] == ok.header("Call-ID")
    assert inc["desk"] == "desk-1"


async def test_an_abandoned_call_makes_no_incident_and_is_counted(desk: Desk):
    async with SippCalls(
        to=desk.uri, callers=[Caller("07700900124", "Gone")], scenario="abandon", hold_ms=300
    ) as sipp:
        assert await sipp.wait() == 0, sipp.stderr
    async with desk.gw.store.read() as tx:
        rows = await tx.audit_since(0, 1000)
    for _ in range(100):
        if any(r["kind"] == "call.abandoned" for r in rows):
            break
        await asyncio.sleep(0.05)
        async with desk.gw.store.read() as tx:
            rows = await tx.audit_since(0, 1000)
    assert any(r["kind"] == "call.abandoned" for r in rows)
    assert await desk.incidents() == []


async def test_twenty_callers_make_twenty_incidents_and_a_repeat_call_links(desk: Desk):
    callers = [Caller(f"0770090{n:04d}", f"Caller {n}") for n in range(20)]
    # The pjsua2 wheel allows 4 calls at once per process: sipp keeps at most 4 up.
    async with SippCalls(to=desk.uri, callers=callers, rate=20, limit=4, hold_ms=300) as sipp:
        assert await sipp.wait() == 0, sipp.stderr
    found = await desk.wait_incidents(20)
    assert sorted(i["caller_number"] for i in found) == sorted(c.number for c in callers)
    async with SippCalls(to=desk.uri, callers=[callers[3]], hold_ms=300) as again:
        assert await again.wait() == 0, again.stderr
    await asyncio.sleep(0.5)
    assert len(await desk.incidents()) == 20  # linked, not a 21st incident
    async with desk.gw.store.read() as tx:
        rows = await tx.audit_since(0, 5000)
    assert [r["kind"] for r in rows].count("call.linked") == 1


async def test_the_gateway_stops_cleanly_with_calls_in_progress(tmp_path: Path):
    settings = Settings(store={"url": f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"})
    source = build("desk", {"bind_address": "127.0.0.1", "port": 0, "desk": "desk-1"})
    callers = [Caller(f"0770091{n:04d}", f"Caller {n}") for n in range(4)]
    gw = Gateway(settings, cti_sources={"desk": source})
    async with gw, gw.running():
        uri = f"sip:999@127.0.0.1:{gw.cti_sources['desk'].local_port}"  # type: ignore[attr-defined]
        async with SippCalls(to=uri, callers=callers, rate=20, limit=4, hold_ms=30_000):
            for _ in range(100):  # wait until calls are up
                async with gw.store.read() as tx:
                    if len(await tx.list_incidents(limit=10)) == 4:
                        break
                await asyncio.sleep(0.05)
            started = time.monotonic()
            async with asyncio.timeout(15):
                await gw.__aexit__(None, None, None)  # shut down with the four calls up
            assert time.monotonic() - started < 15


async def test_the_dispatcher_answers_a_ringing_call_through_the_api(tmp_path: Path):
    settings = Settings(
        store={"url": f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"},
        api={"tokens": [{"name": "desk-1", "role": "dispatcher", "token": TOKEN}]},
    )
    source = build("desk", {"bind_address": "127.0.0.1", "port": 0, "desk": "desk-1", "auto_answer": False})
    async with (
        Gateway(settings, cti_sources={"desk": source}) as gw,
        gw.running(),
        ApiServer(gw, "127.0.0.1", 0) as api,
        aiohttp.ClientSession() as http,
    ):
        desk = Desk(gw, api, http)
        sub = gw.bus.subscribe()
        async with SippCalls(to=desk.uri, callers=[Caller("07700900125", "Ringing")], hold_ms=500) as sipp:
            async with asyncio.timeout(10):
                while (event := await sub.get()) is not None and event.kind != "call.offered":
                    pass
            assert event is not None
            await asyncio.sleep(0.5)
            assert await desk.incidents() == []  # still ringing: nobody picked up
            call_id = event.data["call_id"]
            async with http.post(
                f"{api.url}/api/v1/cti/calls/{call_id}/answer", headers={"Authorization": f"Bearer {TOKEN}"}
            ) as resp:
                assert resp.status == 202, await resp.text()
            (inc,) = await desk.wait_incidents(1)
            assert (inc["call_id"], inc["caller_number"]) == (call_id, "07700900125")
            assert await sipp.wait() == 0, sipp.stderr
