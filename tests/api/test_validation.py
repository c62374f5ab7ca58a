"""Bad input is refused with a JSON body naming the field, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

INCIDENTS = "/api/v1/incidents"
FULL = {"nature": "smoke", "location": "1 High Street", "category": "fire", "impact": 2, "urgency": 2}


async def _all_incidents(api: Api) -> list[dict[str, Any]]:
    r = await api.call("GET", f"{INCIDENTS}?state=all", role="viewer")
    assert r.status == 200
    listed: list[dict[str, Any]] = r.body
    return listed


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({}, "nature", "required"),
        ({**FULL, "nature": "   "}, "nature", "must not be empty"),
        ({**FULL, "location": ""}, "location", "must not be empty"),
        ({**FULL, "impact": 7}, "impact", "1 (high) to 3 (low)"),
        ({**FULL, "urgency": 0}, "urgency", "greater than or equal to 1"),
        ({**FULL, "impact": "2"}, "impact", "valid integer"),
        ({**FULL, "impact": 2.5}, "impact", "valid integer"),
        ({**FULL, "impact": True}, "impact", "valid integer"),
        ({**FULL, "nature": 42}, "nature", "valid string"),
        ({**FULL, "colour": "red"}, "colour", "unknown field"),
        ({**FULL, "caller_number": "call me maybe"}, "caller_number", "phone number"),
        ({**FULL, "source": "Not A Source!"}, "source", "pattern"),
    ],
)
async def test_create_refuses_bad_fields(api: Api, body: dict[str, Any], field: str, reason: str) -> None:
    before = await _all_incidents(api)
    r = await api.call("POST", INCIDENTS, json=body)
    assert r.status == 422
    assert r.body["error"] == "validation"
    assert field in r.body["fields"], r.body
    assert reason in r.body["fields"][field]
    assert await _all_incidents(api) == before


@pytest.mark.parametrize("raw", [b"{not json", b'{"nature": "x",}', b"\xff\xfe", b""])
async def test_malformed_json_is_400(api: Api, raw: bytes) -> None:
    r = await api.call("POST", INCIDENTS, data=raw, headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert r.body["error"] == "malformed_json"
    assert await _all_incidents(api) == []


async def test_a_json_array_is_not_an_incident(api: Api) -> None:
    r = await api.call("POST", INCIDENTS, json=[FULL])
    assert r.status == 422
    assert "body" in r.body["fields"]


async def test_rejected_requests_write_nothing_to_an_existing_incident(api: Api) -> None:
    inc = await api.create(impact=2, urgency=2)
    ref = inc["reference"]
    before = await api.call("GET", f"{INCIDENTS}/{ref}")
    cases: list[tuple[str, str, Any, int, str]] = [
        ("PATCH", "", {}, 422, "body"),
        ("PATCH", "", {"impact": 9}, 422, "impact"),
        ("PATCH", "", {"nature": None}, 422, "nature"),
        ("PATCH", "", {"state": "closed"}, 422, "state"),
        ("POST", "/dispatch", {}, 422, "resources"),
        ("POST", "/dispatch", {"resources": []}, 422, "resources"),
        ("POST", "/dispatch", {"resources": "everyone"}, 422, "resources"),
        ("POST", "/dispatch", {"resources": ["ENG-1", "NOPE-9"]}, 422, "resources"),
        ("POST", "/dispatch", {"resources": ["ENG-1", "ENG-1"]}, 422, "resources"),
        ("POST", "/acknowledge", {"resource": 5}, 422, "resource"),
        ("POST", "/resolve", {"note": "x", "extra": 1}, 422, "extra"),
        ("POST", "/triage", {"force": True}, 422, "force"),
    ]
    for method, suffix, body, status, field in cases:
        r = await api.call(method, f"{INCIDENTS}/{ref}{suffix}", json=body)
        assert r.status == status, (method, suffix, body, r.body)
        assert field in r.body["fields"], (body, r.body)
    after = await api.call("GET", f"{INCIDENTS}/{ref}")
    assert after.body == before.body
    assert after.body["deliveries"] == []
    assert api.desk.sent == []


async def test_unit_status_must_be_a_known_status(api: Api) -> None:
    r = await api.call("PATCH", "/api/v1/resources/ENG-1/status", json={"status": "napping"})
    assert r.status == 422
    assert "status" in r.body["fields"]
    r = await api.call("PATCH", "/api/v1/resources/NOPE/status", json={"status": "available"})
    assert r.status == 404
    assert r.body["error"] == "not_found"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=bogus", "state"),
        ("priority=P9", "priority"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("offset=-1", "offset"),
    ],
)
async def test_bad_list_queries_are_422(api: Api, query: str, field: str) -> None:
    r = await api.call("GET", f"{INCIDENTS}?{query}", role="viewer")
    assert r.status == 422
    assert field in r.body["fields"]


async def test_illegal_transition_is_409(api: Api) -> None:
    ref = (await api.create())["reference"]
    r = await api.call("POST", f"{INCIDENTS}/{ref}/close", role="supervisor", json={"lessons": "too soon"})
    assert r.status == 409
    assert r.body["error"] == "illegal_transition"
    assert (r.body["from"], r.body["to"]) == ("triaged", "closed")
    detail = await api.call("GET", f"{INCIDENTS}/{ref}")
    assert detail.body["state"] == "triaged"
    assert detail.body["lessons"] is None


async def test_conflict_and_not_found_are_json(api: Api) -> None:
    ref = (await api.create())["reference"]
    r = await api.call("POST", f"{INCIDENTS}/{ref}/acknowledge")
    assert r.status == 409
    assert r.body["error"] == "conflict"
    r = await api.call("GET", f"{INCIDENTS}/INC-1999-000001")
    assert r.status == 404
    assert r.body["error"] == "not_found"
    r = await api.call("PUT", f"{INCIDENTS}/{ref}")
    assert r.status == 405
    assert r.headers["Content-Type"].startswith("application/json")


async def test_an_unexpected_error_is_a_500_without_details(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database exploded near +447700900999")

    monkeypatch.setattr(api.gw.incidents, "create", broken)
    r = await api.call("POST", INCIDENTS, json=FULL)
    assert r.status == 500
    assert r.body["error"] == "internal"
    assert "exploded" not in str(r.body)
    assert r.body["request_id"] == r.headers["X-Request-Id"]
    assert "exploded" in caplog.text
    assert "+447700900999" not in caplog.text
