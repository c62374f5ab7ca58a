"""Probes, metrics, channels and inbound traffic from HTTP field devices, and what the logs keep."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from tests.api.conftest import CALLER, HOOK_SECRET, TOKENS, Api, eventually, make_settings, running_api

INBOUND = "/api/v1/channels/hook/inbound"


async def test_probes_and_metrics_need_no_token(api: Api) -> None:
    r = await api.call("GET", "/healthz", role=None)
    assert (r.status, r.body) == (200, {"status": "ok"})
    r = await api.call("GET", "/readyz", role=None)
    assert r.status == 200
    assert r.body == {"status": "ready", "channels": {"desk": "up", "hook": "up"}}
    await api.create(source="phone")
    r = await api.call("GET", "/metrics", role=None)
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    assert 'callout_incidents_created_total{source="phone"} 1.0' in r.body
    assert "callout_ws_clients 0.0" in r.body


async def test_readyz_is_503_when_the_store_does_not_answer(tmp_path: Path) -> None:
    async with running_api(make_settings(tmp_path), run=False) as api:
        assert (await api.call("GET", "/readyz", role=None)).status == 200
        await api.gw.store.close()
        r = await api.call("GET", "/readyz", role=None)
        assert r.status == 503
        assert r.body["status"] == "unavailable"
        assert (await api.call("GET", "/healthz", role=None)).status == 200


async def test_channels_show_kind_health_and_capabilities(api: Api) -> None:
    r = await api.call("GET", "/api/v1/channels", role="viewer")
    assert r.status == 200
    desk = next(c for c in r.body if c["name"] == "desk")
    assert desk["kind"] == "scripted"
    assert desk["health"] == {"state": "up", "reason": "scripted"}
    assert desk["capabilities"]["two_way"] is True
    assert desk["capabilities"]["max_length"] == 1000
    assert {c["name"] for c in r.body} == {"desk", "hook"}


async def test_inbound_status_from_an_http_device(api: Api) -> None:
    r = await api.call(
        "POST",
        INBOUND,
        role=None,
        headers={"X-Callout-Secret": HOOK_SECRET},
        json={"type": "status", "address": "R1", "status": "unavailable"},
    )
    assert r.status == 200, r.body
    assert r.body == {"result": "status unavailable"}
    units = await api.call("GET", "/api/v1/resources", role="viewer")
    assert {u["id"]: u["status"] for u in units.body}["RESCUE-1"] == "unavailable"
    r = await api.call(
        "POST",
        INBOUND,
        role=None,
        headers={"X-Callout-Secret": HOOK_SECRET},
        json={"type": "reply", "address": "unknown-device", "text": "ACK"},
    )
    assert r.body == {"result": "unmatched"}
    r = await api.call(
        "POST",
        INBOUND,
        role=None,
        headers={"X-Callout-Secret": HOOK_SECRET},
        json={"type": "report", "channel_ref": "nothing-sent", "delivered": True},
    )
    assert r.body == {"result": "parked"}


async def test_inbound_ack_acknowledges_the_dispatch(api: Api) -> None:
    ref = (await api.create(category="rescue", impact=2, urgency=2))["reference"]
    r = await api.call("POST", f"/api/v1/incidents/{ref}/dispatch", json={"resources": ["RESCUE-1"]})
    assert r.status == 201
    r = await api.call(
        "POST",
        INBOUND,
        role=None,
        headers={"X-Callout-Secret": HOOK_SECRET},
        json={"type": "reply", "address": "R1", "text": "EN ROUTE"},
    )
    assert r.body == {"result": "en_route"}
    detail = await api.call("GET", f"/api/v1/incidents/{ref}")
    assert detail.body["state"] == "acknowledged"
    assert detail.body["deliveries"][0]["ack_evidence"]["via"] == "http"


@pytest.mark.parametrize(
    ("role", "path", "secret", "status"),
    [
        (None, INBOUND, "wrong-secret", 403),
        (None, INBOUND, None, 403),
        ("supervisor", INBOUND, None, 403),  # a token is no substitute for the device's secret
        (None, "/api/v1/channels/desk/inbound", HOOK_SECRET, 403),  # desk has no secret
        (None, "/api/v1/channels/nope/inbound", HOOK_SECRET, 404),
    ],
)
async def test_inbound_needs_the_channel_secret_and_nothing_else(
    api: Api, role: str | None, path: str, secret: str | None, status: int
) -> None:
    headers = {"X-Callout-Secret": secret} if secret is not None else {}
    r = await api.call(
        "POST",
        path,
        role=role,
        headers=headers,
        json={"type": "status", "address": "R1", "status": "unavailable"},
    )
    assert r.status == status
    assert isinstance(r.body, dict) and "error" in r.body
    units = await api.call("GET", "/api/v1/resources", role="viewer")
    assert {u["id"]: u["status"] for u in units.body}["RESCUE-1"] == "available"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "telepathy", "address": "R1"}, "type"),
        ({"address": "R1", "status": "available"}, "type"),
        ({"type": "status", "address": "R1", "status": "asleep"}, "status"),
        ({"type": "report", "channel_ref": "x", "delivered": "yes"}, "delivered"),
        ({"type": "reply", "address": "R1", "text": "ACK", "extra": 1}, "extra"),
        ({"type": "ack"}, "address"),
    ],
)
async def test_inbound_bodies_are_validated(api: Api, body: dict[str, object], field: str) -> None:
    r = await api.call("POST", INBOUND, role=None, headers={"X-Callout-Secret": HOOK_SECRET}, json=body)
    assert r.status == 422
    assert field in r.body["fields"]
    r = await api.call(
        "POST",
        INBOUND,
        role=None,
        headers={"X-Callout-Secret": HOOK_SECRET},
        data=b"{",
    )
    assert r.status == 400


async def test_logs_hold_neither_caller_numbers_nor_tokens(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await api.create()
    r = await api.call("GET", "/api/v1/callers/%2B447700900121/incidents", role="dispatcher")
    assert r.status == 200
    assert [i["caller_number"] for i in r.body] == [CALLER]
    async with api.session.ws_connect(f"{api.server.url}/api/v1/events?token={TOKENS['viewer']}"):
        pass

    async def logged() -> None:
        access = [rec.getMessage() for rec in caplog.records if rec.name == "aiohttp.access"]
        assert any("/api/v1/callers/" in line for line in access)
        assert any("/api/v1/events" in line for line in access)

    await eventually(logged)
    assert CALLER not in caplog.text
    assert "447700900121" not in caplog.text
    assert TOKENS["viewer"] not in caplog.text


async def test_session_without_token_gets_json_errors_everywhere(api: Api) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{api.server.url}/api/v1/incidents", data="nonsense") as resp,
    ):
        assert resp.status == 401
        assert resp.content_type == "application/json"
