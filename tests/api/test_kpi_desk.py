"""GET /api/v1/kpis and /metrics: average handling time and first-contact resolution per desk and
overall, from calls that came in through the signed CTI webhook, on a manual clock (the repeat
window passes without waiting)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.clock import ManualClock
from tests.api.conftest import Api, make_settings, running_api
from tests.api.test_cti import SECRET, call, post_event

WINDOW = 7200.0


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[tuple[Api, ManualClock]]:
    settings = make_settings(tmp_path)
    settings.cti.webhook_secret = SECRET
    settings.cti.fcr_window = WINDOW
    clock = ManualClock()
    async with running_api(settings, clock=clock) as a:
        yield a, clock


async def _call(api: Api, clock: ManualClock, call_id: str, caller: str, desk: str, took: float) -> str:
    r = await post_event(
        api, {**call("answered", call_id, 1, at=clock.now()), "caller": caller, "desk": desk}, ts=clock.now()
    )
    assert r.status == 202, r.body
    clock.advance(took)
    r = await post_event(api, {**call("ended", call_id, 2, at=clock.now()), "desk": desk}, ts=clock.now())
    assert r.status == 202, r.body
    ref: str = r.body["incident"]
    return ref


async def _fill(api: Api, ref: str, category: str) -> None:
    fields = {
        "nature": "a question",
        "location": "1 High Street",
        "category": category,
        "impact": 3,
        "urgency": 3,
    }
    r = await api.call("PATCH", f"/api/v1/incidents/{ref}", json=fields)
    assert r.status == 200 and r.body["state"] == "triaged", r.body


async def _kpis(api: Api) -> dict[str, Any]:
    r = await api.call("GET", "/api/v1/kpis?hours=24")
    assert r.status == 200, r.body
    body: dict[str, Any] = r.body
    return body


def _gauge(text: str, name: str) -> float:
    [line] = [ln for ln in text.splitlines() if ln.startswith(name + " ")]
    return float(line.split()[-1])


async def test_handling_time_and_first_contact_resolution_per_desk(desk: tuple[Api, ManualClock]) -> None:
    api, clock = desk
    resolved = await _call(api, clock, "c1", "+447700900001", "desk-1", 60)
    await _fill(api, resolved, "enquiry")
    assert (await api.call("POST", f"/api/v1/incidents/{resolved}/resolve", json={})).status == 200

    sent = await _call(api, clock, "c2", "+447700900002", "desk-2", 300)
    await _fill(api, sent, "fire")
    r = await api.call("POST", f"/api/v1/incidents/{sent}/dispatch", json={"resources": ["ENG-1"]})
    assert r.status == 201, r.body

    called_back = await _call(api, clock, "c3", "+447700900003", "desk-1", 120)
    await _fill(api, called_back, "enquiry")
    assert (await api.call("POST", f"/api/v1/incidents/{called_back}/resolve", json={})).status == 200
    clock.advance(600)  # the same caller rings again, within the window: a new incident
    again = await _call(api, clock, "c4", "+447700900003", "desk-1", 30)
    assert again != called_back

    first = await _call(api, clock, "c5", "+447700900004", "desk-2", 90)
    second = await _call(api, clock, "c6", "+447700900005", "desk-2", 30)
    r = await api.call("POST", f"/api/v1/incidents/{second}/merge", json={"into": first})
    assert r.status == 200, r.body

    kpis = await _kpis(api)
    handling = kpis["handling"]
    assert handling["overall"] == {"calls": 6, "average_seconds": 105.0}
    assert handling["desks"] == {
        "desk-1": {"calls": 3, "average_seconds": 70.0},
        "desk-2": {"calls": 3, "average_seconds": 140.0},
    }
    assert len(handling["trend"]) == 24 and sum(p["calls"] for p in handling["trend"]) == 6
    fcr = kpis["first_contact"]
    assert fcr["window_seconds"] == WINDOW
    # resolved: c1; dispatched: c2; repeat: c3 (called back) and c5 (a duplicate merged into it);
    # open: c4; c6 is part of c5's contact.
    assert fcr["overall"] == {
        "contacts": 5,
        "resolved": 1,
        "dispatched": 1,
        "repeat": 2,
        "open": 1,
        "provisional": 1,
        "rate": 0.25,
    }
    assert {d: v["rate"] for d, v in fcr["desks"].items()} == {"desk-1": 0.5, "desk-2": 0.0}

    metrics = (await api.call("GET", "/metrics", role=None)).body
    assert _gauge(metrics, "callout_kpi_handling_average_seconds") == 105.0
    assert _gauge(metrics, "callout_kpi_first_contact_resolution_ratio") == 0.25
    assert _gauge(metrics, 'callout_kpi_desk_first_contact_resolution_ratio{desk="desk-1"}') == 0.5
    assert _gauge(metrics, 'callout_kpi_desk_handling_average_seconds{desk="desk-2"}') == 140.0
    assert _gauge(metrics, 'callout_kpi_first_contacts{outcome="provisional"}') == 1.0

    # Once the window has passed with no further call, the desk resolution is final.
    clock.advance(WINDOW)
    fcr = (await _kpis(api))["first_contact"]
    assert (fcr["overall"]["resolved"], fcr["overall"]["provisional"]) == (1, 0)


async def test_no_calls_no_figures(desk: tuple[Api, ManualClock]) -> None:
    api, _ = desk
    kpis = await _kpis(api)
    assert kpis["handling"]["overall"] == {"calls": 0, "average_seconds": None}
    assert kpis["first_contact"]["overall"]["rate"] is None
    metrics = (await api.call("GET", "/metrics", role=None)).body
    assert str(_gauge(metrics, "callout_kpi_first_contact_resolution_ratio")) == "nan"
