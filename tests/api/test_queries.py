"""Listing incidents (filters, order, paging, response targets) and caller history."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.conftest import CALLER, Api


async def test_list_is_open_incidents_by_priority_then_age(api: Api) -> None:
    p3 = (await api.create(impact=2, urgency=2))["reference"]
    p1 = (await api.create(impact=1, urgency=1))["reference"]
    new = (await api.create(category=None, impact=None, urgency=None))["reference"]
    p1_later = (await api.create(impact=1, urgency=1))["reference"]
    done = (await api.create(category="enquiry", impact=3, urgency=3))["reference"]
    assert (await api.call("POST", f"/api/v1/incidents/{done}/resolve")).status == 200

    r = await api.call("GET", "/api/v1/incidents", role="viewer")
    assert r.status == 200
    # Untriaged first (it may be a P1 nobody has assessed yet), then by priority, then by age.
    assert [i["reference"] for i in r.body] == [new, p1, p1_later, p3]
    targets = {i["reference"]: i["response_target_seconds"] for i in r.body}
    assert targets == {p1: 480, p1_later: 480, p3: 3600, new: None}
    assert all(i["response_due_at"] is not None for i in r.body if i["priority"])

    r = await api.call("GET", "/api/v1/incidents?state=all", role="viewer")
    assert done in [i["reference"] for i in r.body]
    r = await api.call("GET", "/api/v1/incidents?state=resolved", role="viewer")
    assert [i["reference"] for i in r.body] == [done]
    r = await api.call("GET", "/api/v1/incidents?priority=P3,P4&state=all", role="viewer")
    assert [i["reference"] for i in r.body] == [p3, done]
    r = await api.call("GET", "/api/v1/incidents?category=enquiry&state=triaged,resolved", role="viewer")
    assert [i["reference"] for i in r.body] == [done]
    r = await api.call("GET", "/api/v1/incidents?limit=2&offset=1", role="viewer")
    assert [i["reference"] for i in r.body] == [p1, p1_later]


async def test_caller_history_matches_the_number_however_it_is_written(api: Api) -> None:
    first = (await api.create(caller_number="+44 7700-900121"))["reference"]
    second = (await api.create(caller_number=CALLER))["reference"]
    await api.create(caller_number="+447700900999")
    r = await api.call("GET", f"/api/v1/callers/{quote('+44 7700 900121')}/incidents", role="dispatcher")
    assert r.status == 200
    assert [i["reference"] for i in r.body] == [second, first]
    assert {i["caller_number"] for i in r.body} == {CALLER}
    r = await api.call("GET", f"/api/v1/callers/{quote(CALLER)}/incidents?limit=1", role="supervisor")
    assert [i["reference"] for i in r.body] == [second]
    r = await api.call("GET", "/api/v1/callers/not-a-number/incidents", role="dispatcher")
    assert r.status == 422
    assert "number" in r.body["fields"]


async def test_triage_rules_are_readable_so_the_desk_can_show_priority_live(api: Api) -> None:
    r = await api.call("GET", "/api/v1/triage", role="viewer")
    assert r.status == 200
    assert r.body["matrix"][0][0] == "P1" and r.body["matrix"][1][2] == "P4"
    assert (r.body["impact_levels"], r.body["urgency_levels"]) == (3, 3)
    assert {"category": "fire", "classification": "incident", "capabilities": ["fire"]} in r.body["rules"]
    assert r.body["targets"]["P1"]["response_target_seconds"] == 480
    assert (await api.call("GET", "/api/v1/triage", role=None)).status == 401
