"""Serving the console's files, and the two API routes it added: /api/v1/me and /api/v1/kpis."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from gateway import console
from tests.api.conftest import TOKENS
from tests.console.conftest import Desk

CONSOLE_DIR = Path(console.__file__).parent


async def test_page_and_assets_need_no_token_and_revalidate(desk: Desk) -> None:
    async with desk.session.get(desk.url + "/") as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.headers["Cache-Control"] == "no-cache"
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        etag = r.headers["ETag"]
        page = await r.text()
    assert '<script type="module" src="/console/app.js">' in page
    async with desk.session.get(desk.url + "/", headers={"If-None-Match": etag}) as r:
        assert r.status == 304
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css"), ("index.html", "text/html")):
        async with desk.session.get(f"{desk.url}/console/{name}") as r:
            assert r.status == 200, name
            assert r.headers["Content-Type"] == f"{kind}; charset=utf-8"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("nope.js", "__init__.py", "..%2F__init__.py"):
        async with desk.session.get(f"{desk.url}/console/{name}") as r:
            assert r.status == 404, name
            assert (await r.json())["error"] == "not_found"


def test_every_module_import_is_a_shipped_file() -> None:
    shipped = {p.name for p in CONSOLE_DIR.iterdir()}
    for js in CONSOLE_DIR.glob("*.js"):
        for target in re.findall(r'from "\./([\w.-]+)"', js.read_text()):
            assert target in shipped, f"{js.name} imports {target}"
    assert not re.search(r"https?://", (CONSOLE_DIR / "index.html").read_text())  # nothing from a CDN


async def test_me_names_the_token_and_its_permissions(desk: Desk) -> None:
    expected = {
        "viewer": ["read"],
        "dispatcher": ["incident.write", "personal.read", "read", "unit.status"],
        "supervisor": [
            "incident.supervise",
            "incident.write",
            "personal.read",
            "privacy.admin",
            "read",
            "unit.status",
        ],
        "engineer": ["read", "unit.status"],
    }
    for role, permissions in expected.items():
        status, body = await desk.call("GET", "/api/v1/me", role=role)
        assert status == 200
        assert body == {"name": f"{role}-1", "role": role, "permissions": permissions}
    status, _ = await desk.call("GET", "/api/v1/me", role=None)
    assert status == 401
    assert TOKENS  # the same token table as the API tests


async def test_kpis_measure_times_against_targets_and_fallbacks_per_channel(desk: Desk) -> None:
    desk.desk.script("eng-2", "perm")
    inc = await desk.create(nature="smoke", location="1 High Street", category="fire", impact=1, urgency=1)
    ref = inc["reference"]
    status, _ = await desk.call(
        "POST", f"/api/v1/incidents/{ref}/dispatch", json={"resources": "recommended"}
    )
    assert status == 201
    await asyncio.sleep(0.3)
    desk.desk.reply("eng-1", "ON SCENE")
    for _ in range(100):
        _, body = await desk.call("GET", "/api/v1/kpis", role="viewer")
        desk_channel = body["channels"].get("desk", {})
        if body["priorities"]["P1"]["to_on_scene"]["count"] and desk_channel.get("failed"):
            break
        await asyncio.sleep(0.05)
    p1 = body["priorities"]["P1"]
    assert body["incidents"] == 1 and p1["incidents"] == 1
    assert p1["to_dispatch"]["count"] == 1 and p1["to_dispatch"]["target"] is None
    assert p1["to_acknowledge"] | {"median": None, "p90": None, "max": None} == {
        "count": 1,
        "median": None,
        "p90": None,
        "max": None,
        "target": 60.0,
        "met": 1,
        "missed": 0,
    }
    assert p1["to_on_scene"]["met"] == 1 and p1["to_on_scene"]["target"] == 480
    assert body["priorities"]["P2"]["to_on_scene"] == {
        "count": 0,
        "median": None,
        "p90": None,
        "max": None,
        "target": 1200,
        "met": 0,
        "missed": 0,
    }
    assert body["channels"]["desk"] == {
        "attempts": 2,
        "accepted": 1,
        "delivered": 1,
        "acknowledged": 1,
        "failed": 1,
        "cancelled": 0,
        "in_flight": 0,
        "success_rate": 0.5,
        "fallbacks": 1,
        "fallback_reasons": {"failed": 1},
    }
    assert body["targets"]["P1"]["ack_deadline"] == 60 and body["window"]["hours"] == 24
    status, body = await desk.call("GET", "/api/v1/kpis?hours=0", role="viewer")
    assert status == 422 and "hours" in body["fields"]
