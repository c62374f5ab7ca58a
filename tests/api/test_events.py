"""WebSocket /api/v1/events: replay, live stream, slow clients, shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from gateway.api import ApiServer
from gateway.bus import BusEvent, Subscription
from tests.api.conftest import TOKENS, Api, EventLog, eventually, make_settings, running_api


async def test_replay_since_then_live_without_duplicates(api: Api) -> None:
    first = (await api.create())["reference"]
    second = (await api.create(category="enquiry"))["reference"]
    async with api.ws("/api/v1/events?since=0") as ws:
        log = EventLog(ws)

        async def replayed() -> None:
            refs = {e["incident"] for e in log.events if e["kind"] == "incident.created"}
            assert refs == {first, second}

        await eventually(replayed)
        assert all(e.get("replay") is True for e in log.events)
        ids = [e["id"] for e in log.events]
        assert ids == sorted(ids)
        third = (await api.create(category="enquiry"))["reference"]

        async def live() -> None:
            # The creator's answer held the whole number: its audited read is the last event.
            assert "personal.viewed" in log.kinds(third)

        await eventually(live)
        live_events = [e for e in log.events if e["incident"] == third]
        assert live_events and all("replay" not in e for e in live_events)
        ids = [e["id"] for e in log.events]
        assert len(ids) == len(set(ids))
        await log.stop()

    # A later `since` replays only what came after it.
    cut = max(ids)
    fourth = (await api.create(category="enquiry"))["reference"]
    async with api.ws(f"/api/v1/events?since={cut}") as ws:
        log = EventLog(ws)

        async def only_newer() -> None:
            assert "incident.created" in log.kinds(fourth)

        await eventually(only_newer)
        assert all(e["id"] > cut for e in log.events)
        assert {e["incident"] for e in log.events} == {fourth}
        await log.stop()


async def test_bad_since_is_refused_before_the_upgrade(api: Api) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        async with api.ws("/api/v1/events?since=yesterday"):
            pass
    assert info.value.status == 422


async def test_client_gauge_follows_connections(api: Api) -> None:
    def clients() -> float:
        return api.gw.metrics.ws_clients._value.get()

    async with api.ws(), api.ws(role="engineer"):
        assert clients() == 2

    async def gone() -> None:
        assert clients() == 0

    await eventually(gone)


async def test_slow_client_is_cut_off_with_1013(tmp_path: Path) -> None:
    async with running_api(make_settings(tmp_path, ws_queue=10, extra_units=3)) as api:
        ref = (await api.create())["reference"]
        async with api.ws() as ws:
            # The dispatch commits in one transaction and publishes ~16 events at once: more than
            # the 10 this client may have queued.
            units = ["ENG-1", "ENG-2", "SPARE-0", "SPARE-1", "SPARE-2"]
            r = await api.call("POST", f"/api/v1/incidents/{ref}/dispatch", json={"resources": units})
            assert r.status == 201
            async with asyncio.timeout(5):
                while (msg := await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                    pass
            assert msg.type is aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 1013
            assert "too slow" in str(msg.extra)

        async def gone() -> None:
            assert api.gw.metrics.ws_clients._value.get() == 0

        await eventually(gone)
        # Reconnecting with ?since= picks up what was missed.
        async with api.ws("/api/v1/events?since=0") as ws:
            log = EventLog(ws)

            async def caught_up() -> None:
                assert log.kinds(ref).count("delivery.created") == 5

            await eventually(caught_up)
            await log.stop()


async def test_stopping_the_server_closes_websockets(tmp_path: Path) -> None:
    async with running_api(make_settings(tmp_path)) as api:
        server = ApiServer(api.gw, "127.0.0.1", 0)
        async with server:
            ws = await api.session.ws_connect(
                f"{server.url}/api/v1/events", headers={"Authorization": f"Bearer {TOKENS['viewer']}"}
            )

            async def until_not_an_event() -> aiohttp.WSMessage:
                # Events written meanwhile (the channels' health at start) may come first.
                while (msg := await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                    pass
                return msg

            reader = asyncio.create_task(until_not_an_event())
            async with asyncio.timeout(3):
                await server.__aexit__(None, None, None)
            msg = await asyncio.wait_for(reader, 3)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg.data
            assert ws.close_code == 1001
            await ws.close()


async def test_events_in_both_replay_and_live_are_sent_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = (await api.create())["reference"]
    async with api.gw.store.read() as tx:
        rows = await tx.audit_since(0)
    assert rows
    subscribe = api.gw.bus.subscribe

    def overlapping(maxsize: int = 1000) -> Subscription:
        # As if these commits were published just after the client subscribed: the replay reads
        # them from the store too.
        sub = subscribe(maxsize)
        for row in rows:
            sub._offer(
                BusEvent(
                    kind=row["kind"],
                    at=row["at"],
                    data=row["data"],
                    incident=row["reference"],
                    audit_id=row["id"],
                )
            )
        return sub

    monkeypatch.setattr(api.gw.bus, "subscribe", overlapping)
    async with api.ws("/api/v1/events?since=0") as ws:
        log = EventLog(ws)
        later = (await api.create(category="enquiry"))["reference"]

        async def caught_up() -> None:
            assert "incident.created" in log.kinds(later)

        await eventually(caught_up)
        ids = [e["id"] for e in log.events]
        assert len(ids) == len(set(ids))
        assert log.kinds(ref).count("incident.created") == 1
        await log.stop()
