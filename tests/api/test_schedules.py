"""On-call schedules through the API and the dispatch: a contact plan naming a schedule reaches
whoever is on call when the delivery is created; on-call lookups, iCalendar export, config gaps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.config_check import schedule_gaps, warnings
from gateway.settings import Settings
from tests.api.conftest import eventually, make_settings, running_api


def with_rota(tmp_path: Path, **schedule: Any) -> Settings:
    base = make_settings(tmp_path).model_dump()
    base["stakeholders"] = [
        {"id": who, "name": who.title(), "groups": ["managers"],
         "contact_plan": [{"channel": "desk", "address": f"{who}-phone"}]}
        for who in ("ann", "bob")
    ]  # fmt: skip
    base["schedules"] = [
        {"id": "duty", "members": ["ann", "bob"], "rotation": "daily", "time_zone": "Europe/London",
         "handover": "08:00", "start": (date.today() - timedelta(days=3)).isoformat(), **schedule}
    ]  # fmt: skip
    base["resources"].append(
        {"id": "DUTY-MGR", "capabilities": ["command"],
         "contact_plan": [{"schedule": "duty"}, {"channel": "hook", "address": "DM"}]}
    )  # fmt: skip
    return Settings(**base)


async def test_a_dispatch_to_a_schedule_reaches_who_is_on_call(tmp_path: Path):
    async with running_api(with_rota(tmp_path)) as api:
        r = await api.call("GET", "/api/v1/schedules", role="viewer")
        assert r.status == 200, r.body
        (duty,) = r.body
        on_call = duty["now"]["member"]
        assert on_call in ("ann", "bob") and duty["next"]["member"] != on_call
        assert duty["now"]["name"] == on_call.title()

        inc = await api.create(category="enquiry")
        r = await api.call(
            "POST", f"/api/v1/incidents/{inc['reference']}/dispatch", json={"resources": ["DUTY-MGR"]}
        )
        assert r.status in (200, 201), r.body

        async def paged() -> None:
            assert [m.address for m in api.desk.sent] == [f"{on_call}-phone"]

        await eventually(paged)
        async with api.gw.store.read() as tx:
            created = [e for e in await tx.audit_since(0, limit=5000) if e["kind"] == "delivery.created"]
        assert created[-1]["data"]["on_call"] == {"duty": on_call}
        assert created[-1]["data"]["plan"] == [f"desk:{on_call}-phone", "hook:DM"]


async def test_on_call_at_a_time_and_the_ics_export(tmp_path: Path):
    start = date(2026, 3, 1)
    settings = with_rota(
        tmp_path, start=start.isoformat(),
        overrides=[
            {"member": "ann", "start": "2026-03-29T08:00:00+01:00", "end": "2026-03-29T12:00:00+01:00"}
        ],
    )  # fmt: skip
    async with running_api(settings) as api:
        r = await api.call(
            "GET", "/api/v1/schedules/duty/on-call?at=2026-03-29T07:59:00%2B01:00", role="viewer"
        )
        # 28 hand-overs since 1 March: the 28th shift (bob's) runs to 08:00 BST on the 29th
        assert r.status == 200 and r.body["now"]["member"] == "bob", r.body
        assert r.body["now"]["cover"] == "rotation"
        assert r.body["now"]["until"] == "2026-03-29T07:00:00+00:00"  # 08:00 BST after the change
        r = await api.call("GET", "/api/v1/schedules/duty/on-call?at=2026-03-29T09:00:00Z", role="viewer")
        # ann's cover runs into her own shift: one stretch to the next hand-over, then bob
        assert r.body["now"]["member"] == "ann" and r.body["now"]["from"] == "2026-03-29T07:00:00+00:00"
        assert r.body["now"]["until"] == "2026-03-30T07:00:00+00:00" and r.body["next"]["member"] == "bob"
        assert (r.body["now"]["cover"], r.body["next"]["cover"]) == ("override", "rotation")
        r = await api.call("GET", "/api/v1/schedules/duty/on-call?at=yesterday", role="viewer")
        assert r.status == 422 and "at" in str(r.body)
        r = await api.call("GET", "/api/v1/schedules/duty/on-call?at=2026-03-29T09:00:00", role="viewer")
        assert r.status == 422
        r = await api.call("GET", "/api/v1/schedules/none/on-call", role="viewer")
        assert r.status == 404
        r = await api.call("GET", "/api/v1/schedules/duty.ics", role="viewer")
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/calendar")
        assert "BEGIN:VCALENDAR" in r.body and r.body.count("BEGIN:VEVENT") >= 28


def test_check_config_warns_about_gaps_in_p1_cover(tmp_path: Path):
    now = datetime.now(UTC)
    hole = {
        "member": "",
        "start": (now + timedelta(days=2)).isoformat(),
        "end": (now + timedelta(days=2, hours=6)).isoformat(),
    }
    settings = with_rota(tmp_path, overrides=[hole])
    (gap,) = schedule_gaps(settings, now=now.timestamp())
    assert gap.startswith("schedules.0 (duty): P1 cover has gaps") and "6.0 h" in gap
    assert any(w.startswith("schedules.0 (duty)") for w in warnings(settings))
    assert schedule_gaps(with_rota(tmp_path), now=now.timestamp()) == []
