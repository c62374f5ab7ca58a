"""Authentication (bearer tokens) and the role table."""

from __future__ import annotations

import aiohttp
import pytest

from tests.api.conftest import TOKENS, Api


async def test_no_token_is_401_with_a_bearer_challenge(api: Api) -> None:
    r = await api.call("GET", "/api/v1/incidents", role=None)
    assert r.status == 401
    assert r.body["error"] == "unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("header", ["Bearer not-a-real-token-at-all", "Basic dXNlcjpwYXNz", "Bearer "])
async def test_bad_token_is_401(api: Api, header: str) -> None:
    r = await api.call("GET", "/api/v1/incidents", role=None, headers={"Authorization": header})
    assert r.status == 401
    assert r.body["error"] == "unauthorized"
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


async def test_query_token_is_only_for_the_websocket(api: Api) -> None:
    r = await api.call("GET", f"/api/v1/incidents?token={TOKENS['supervisor']}", role=None)
    assert r.status == 401
    async with api.session.ws_connect(f"{api.server.url}/api/v1/events?token={TOKENS['viewer']}") as ws:
        assert not ws.closed


async def test_unknown_routes_need_a_token_first(api: Api) -> None:
    assert (await api.call("GET", "/api/v1/nothing-here", role=None)).status == 401
    r = await api.call("GET", "/api/v1/nothing-here", role="viewer")
    assert r.status == 404
    assert r.body["error"] == "not_found"


async def test_viewer_reads_but_cannot_create_or_dispatch(api: Api) -> None:
    r = await api.call("POST", "/api/v1/incidents", role="viewer", json={"nature": "x"})
    assert r.status == 403
    assert r.body == {
        "error": "forbidden",
        "message": "role 'viewer' may not do this",
        "required": "incident.write",
        "role": "viewer",
    }
    ref = (await api.create())["reference"]
    r = await api.call(
        "POST", f"/api/v1/incidents/{ref}/dispatch", role="viewer", json={"resources": "recommended"}
    )
    assert r.status == 403
    detail = await api.call("GET", f"/api/v1/incidents/{ref}", role="viewer")
    assert detail.status == 200
    assert detail.body["state"] == "triaged"
    assert detail.body["deliveries"] == []
    listed = await api.call("GET", "/api/v1/incidents?state=all", role="viewer")
    assert [i["reference"] for i in listed.body] == [ref]


async def test_only_a_supervisor_closes_cancels_and_edits_lessons(api: Api) -> None:
    ref = (await api.create(category="enquiry", impact=3, urgency=3))["reference"]
    assert (await api.call("POST", f"/api/v1/incidents/{ref}/resolve", json={})).status == 200
    for role in ("dispatcher", "engineer", "viewer"):
        r = await api.call("POST", f"/api/v1/incidents/{ref}/close", role=role, json={"lessons": "x"})
        assert r.status == 403, role
        assert r.body["required"] == "incident.supervise"
    r = await api.call("PATCH", f"/api/v1/incidents/{ref}", role="dispatcher", json={"lessons": "x"})
    assert r.status == 403
    r = await api.call(
        "POST",
        f"/api/v1/incidents/{ref}/close",
        role="supervisor",
        json={"lessons": "answer enquiries faster"},
    )
    assert r.status == 200
    assert r.body["state"] == "closed"
    assert r.body["lessons"] == "answer enquiries faster"
    r = await api.call("PATCH", f"/api/v1/incidents/{ref}", role="supervisor", json={"lessons": "revised"})
    assert r.status == 200
    assert r.body["lessons"] == "revised"

    other = (await api.create())["reference"]
    assert (await api.call("POST", f"/api/v1/incidents/{other}/cancel", role="dispatcher")).status == 403
    r = await api.call("POST", f"/api/v1/incidents/{other}/cancel", role="supervisor", json={"note": "hoax"})
    assert r.status == 200
    assert r.body["state"] == "cancelled"


async def test_engineer_sets_unit_status_but_cannot_touch_incidents(api: Api) -> None:
    r = await api.call(
        "PATCH", "/api/v1/resources/ENG-2/status", role="engineer", json={"status": "out_of_service"}
    )
    assert r.status == 200
    assert r.body["status"] == "out_of_service"
    assert (
        await api.call("POST", "/api/v1/resources/ENG-2/status", role="viewer", json={"status": "available"})
    ).status == 403
    assert (await api.call("POST", "/api/v1/incidents", role="engineer", json={"nature": "x"})).status == 403
    listed = await api.call("GET", "/api/v1/resources", role="engineer")
    assert {r["id"]: r["status"] for r in listed.body}["ENG-2"] == "out_of_service"


async def test_actor_is_the_token_name(api: Api) -> None:
    ref = (await api.create(role="supervisor"))["reference"]
    detail = await api.call("GET", f"/api/v1/incidents/{ref}")
    created = next(e for e in detail.body["timeline"] if e["kind"] == "incident.created")
    assert created["actor"] == "api:supervisor-1"


async def test_websocket_without_a_token_is_refused(api: Api) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        async with api.ws(role=None):
            pass
    assert info.value.status == 401
