"""Roles and personal data: viewers and engineers see caller numbers masked in every answer (the
API and the WebSocket); dispatchers and supervisors see them whole, and each whole read is
audited (who, when, which incident), coalesced per reader and incident."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.conftest import CALLER, Api, EventLog, eventually, make_settings, running_api

MASKED = "+447*******21"


async def test_viewers_and_engineers_see_masked_numbers_in_every_answer(api: Api) -> None:
    ref = (await api.create())["reference"]
    for role in ("viewer", "engineer"):
        detail = await api.call("GET", f"/api/v1/incidents/{ref}", role=role)
        assert (detail.body["caller_number"], detail.body["caller_name"]) == (MASKED, "A** L*******")
        listed = await api.call("GET", "/api/v1/incidents", role=role)
        assert [i["caller_number"] for i in listed.body] == [MASKED]
        for answer in (detail, listed):
            assert CALLER not in json.dumps(answer.body), role
            assert "Lovelace" not in json.dumps(answer.body), role
        r = await api.call("GET", f"/api/v1/callers/{CALLER}/incidents", role=role)
        assert r.status == 403 and r.body["required"] == "personal.read"


async def test_dispatchers_and_supervisors_see_them_whole(api: Api) -> None:
    ref = (await api.create())["reference"]
    for role in ("dispatcher", "supervisor"):
        detail = await api.call("GET", f"/api/v1/incidents/{ref}", role=role)
        assert (detail.body["caller_number"], detail.body["caller_name"]) == (CALLER, "Ada Lovelace")
        r = await api.call("GET", f"/api/v1/callers/{CALLER}/incidents", role=role)
        assert [i["reference"] for i in r.body] == [ref]


async def test_each_whole_read_is_audited_once_per_interval_and_masked_reads_are_not(api: Api) -> None:
    ref = (await api.create())["reference"]
    for _ in range(3):
        assert (await api.call("GET", f"/api/v1/incidents/{ref}", role="supervisor")).status == 200
        assert (await api.call("GET", f"/api/v1/incidents/{ref}", role="viewer")).status == 200
    timeline = (await api.call("GET", f"/api/v1/incidents/{ref}", role="viewer")).body["timeline"]
    viewed = [e for e in timeline if e["kind"] == "personal.viewed"]
    # The dispatcher's own answer to its create is a whole read, so is the supervisor's first look.
    assert sorted(e["actor"] for e in viewed) == ["api:dispatcher-1", "api:supervisor-1"]
    assert all(e["data"]["fields"] == ["caller_number", "caller_name"] for e in viewed)
    assert {e["data"]["route"] for e in viewed} == {"incident-create", "incident"}
    assert CALLER not in json.dumps(timeline)


async def test_with_no_interval_every_whole_read_is_audited(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.privacy.view_audit_interval = 0
    async with running_api(settings, run=False) as api:
        ref = (await api.create())["reference"]
        for _ in range(3):
            await api.call("GET", f"/api/v1/incidents/{ref}", role="supervisor")
        timeline = (await api.call("GET", f"/api/v1/incidents/{ref}", role="viewer")).body["timeline"]
        assert [e["actor"] for e in timeline if e["kind"] == "personal.viewed"].count("api:supervisor-1") == 3


async def test_the_websocket_never_carries_a_whole_number(api: Api) -> None:
    for role in ("viewer", "engineer"):
        live = EventLog(await api.ws(role=role))
        ref = (await api.create())["reference"]
        await api.call("PATCH", f"/api/v1/incidents/{ref}", json={"caller_number": "+447700900999"})

        async def got_update(log: EventLog = live, ref: str = ref) -> None:
            assert "incident.updated" in log.kinds(ref)

        await eventually(got_update)
        await live.stop()
        async with api.ws("/api/v1/events?since=0", role=role) as ws:
            replay = [await ws.receive_json(timeout=5) for _ in range(5)]
        for text in (json.dumps(live.events), json.dumps(replay)):
            assert CALLER not in text and "+447700900999" not in text and "Lovelace" not in text
