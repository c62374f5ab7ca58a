"""Maintenance windows through the API: a channel in a window is skipped (no failure alarm), a
resource in one is not recommended, windows are audited and survive a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.domain.states import DeliveryState
from tests.api.conftest import eventually, make_settings, running_api


def soon(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def audit_kinds(api: Any) -> list[str]:
    async with api.gw.store.read() as tx:
        return [e["kind"] for e in await tx.audit_since(0, limit=5000)]


async def test_a_channel_in_a_window_is_skipped_without_a_health_alarm(tmp_path: Path):
    async with running_api(make_settings(tmp_path)) as api:
        r = await api.call(
            "POST", "/api/v1/maintenance", role="dispatcher", json={"channel": "desk", "ends_at": soon(1)}
        )
        assert r.status == 403
        r = await api.call(
            "POST", "/api/v1/maintenance", role="supervisor",
            json={"channel": "desk", "ends_at": soon(1), "reason": "line works"},
        )  # fmt: skip
        assert r.status == 201, r.body
        window = r.body
        assert window["active"] and window["channel"] == "desk" and window["source"] == "api"

        inc = await api.create(category="enquiry")
        r = await api.call(
            "POST", f"/api/v1/incidents/{inc['reference']}/dispatch", json={"resources": ["RESCUE-1"]}
        )
        assert r.status in (200, 201), r.body

        async def on_the_hook() -> None:
            async with api.gw.store.read() as tx:
                incident = await tx.get_incident(inc["reference"])
                (d,) = await tx.deliveries_for_incident(incident.id)
                attempts = await tx.attempts_for([d.id])
            # the desk endpoint is passed over at once: no attempt, no failure
            assert [(a.channel, a.state) for a in attempts] == [("hook", DeliveryState.SENT)]

        await eventually(on_the_hook)
        assert api.desk.sent == []
        kinds = await audit_kinds(api)
        assert "maintenance.created" in kinds
        assert api.gw.channels["desk"].health.state.value == "up"  # nothing was reported down

        r = await api.call("DELETE", f"/api/v1/maintenance/{window['id']}", role="supervisor")
        assert r.status == 200 and not r.body["active"]
        assert "maintenance.ended" in await audit_kinds(api)


async def test_a_resource_in_a_window_is_not_recommended_and_windows_survive_a_restart(tmp_path: Path):
    settings = make_settings(tmp_path)
    async with running_api(settings) as api:
        r = await api.call(
            "POST", "/api/v1/maintenance", role="supervisor",
            json={"resource": "ENG-1", "starts_at": soon(-0.1), "ends_at": soon(2), "reason": "pump service"},
        )  # fmt: skip
        assert r.status == 201, r.body
        inc = await api.create()
        recommended = [rec["resource_id"] for rec in inc["recommendation"]]
        assert "ENG-1" not in recommended and "ENG-2" in recommended
    async with running_api(settings) as api:
        r = await api.call("GET", "/api/v1/maintenance", role="viewer")
        assert [(w["resource"], w["active"]) for w in r.body] == [("ENG-1", True)]


async def test_bad_windows_are_422_with_the_field(tmp_path: Path):
    async with running_api(make_settings(tmp_path)) as api:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"channel": "nope", "ends_at": soon(1)}, "channel"),
            ({"channel": "desk", "resource": "ENG-1", "ends_at": soon(1)}, "body"),
            ({"channel": "desk", "starts_at": soon(2), "ends_at": soon(1)}, "ends_at"),
            ({"channel": "desk", "ends_at": "2026-01-01T00:00:00"}, "ends_at"),  # no offset
        ]
        for body, key in cases:
            r = await api.call("POST", "/api/v1/maintenance", role="supervisor", json=body)
            assert r.status == 422, (body, r.body)
            assert key in str(r.body), (body, r.body)
        r = await api.call("DELETE", "/api/v1/maintenance/none", role="supervisor")
        assert r.status == 404
