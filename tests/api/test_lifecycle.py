"""One incident from the desk to the review, through HTTP only, watched over the WebSocket."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.api.conftest import CALLER, Api, EventLog, eventually


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_full_lifecycle_over_http(api: Api) -> None:
    async with api.ws() as ws:
        log = EventLog(ws)

        # Create: every mandatory field is there, so it is triaged in the same request.
        inc = await api.create()
        ref = inc["reference"]
        assert inc["state"] == "triaged"
        assert (inc["priority"], inc["classification"]) == ("P1", "incident")
        assert {r["resource_id"] for r in inc["recommendation"]} == {"ENG-1", "ENG-2"}
        assert inc["caller_number"] == CALLER
        assert inc["response_target_seconds"] == 480
        assert _at(inc["response_due_at"]) - _at(inc["created_at"]) == timedelta(seconds=480)

        # Dispatch the recommendation; the channel gets both messages and the deliveries show sent.
        r = await api.call("POST", f"/api/v1/incidents/{ref}/dispatch", json={"resources": "recommended"})
        assert r.status == 201, r.body
        assert r.body["incident"]["state"] == "dispatched"
        assert sorted(d["recipient"] for d in r.body["deliveries"]) == ["ENG-1", "ENG-2"]

        async def sent() -> list[dict[str, Any]]:
            assert {m.address for m in api.desk.messages(ref, "dispatch")} == {"eng-1", "eng-2"}
            detail = await api.call("GET", f"/api/v1/incidents/{ref}")
            deliveries: list[dict[str, Any]] = detail.body["deliveries"]
            assert [d["state"] for d in deliveries] == ["sent", "sent"]
            return deliveries

        deliveries = await eventually(sent)
        attempt = deliveries[0]["attempts"][0]
        assert (attempt["channel"], attempt["state"], attempt["tries"]) == ("desk", "sent", 0)
        assert attempt["channel_ref"].startswith("desk-")
        assert attempt["evidence"]["channel_ref"] == attempt["channel_ref"]
        assert _at(attempt["sent_at"]) >= _at(inc["created_at"])
        assert ref in api.desk.messages(ref, "dispatch")[0].text

        # Acknowledge at the desk (the unit answered on voice radio).
        r = await api.call("POST", f"/api/v1/incidents/{ref}/acknowledge", json={})
        assert r.status == 200, r.body
        assert r.body["incident"]["state"] == "acknowledged"
        assert {d["state"] for d in r.body["deliveries"]} == {"acknowledged"}

        # Resolve: everyone who was paged is stood down.
        r = await api.call("POST", f"/api/v1/incidents/{ref}/resolve", json={"note": "fire out"})
        assert r.status == 200
        assert r.body["state"] == "resolved"

        async def stood_down() -> None:
            msgs = api.desk.messages(ref, "stand_down")
            assert {m.address for m in msgs} == {"eng-1", "eng-2"}
            assert all("STAND DOWN" in m.text for m in msgs)

        await eventually(stood_down)

        # Close with lessons (a supervisor), then the review.
        r = await api.call(
            "POST",
            f"/api/v1/incidents/{ref}/close",
            role="supervisor",
            json={"lessons": "hydrant map was out of date"},
        )
        assert r.status == 200
        assert (r.body["state"], r.body["lessons"]) == ("closed", "hydrant map was out of date")
        assert r.body["closed_at"] is not None

        review = await api.call("GET", f"/api/v1/incidents/{ref}/review", role="viewer")
        assert review.status == 200
        times = review.body["times"]
        assert times["dispatch"]["seconds"] is not None and times["dispatch"]["seconds"] >= 0
        assert times["acknowledge"]["at"] is not None
        assert times["resolve"]["seconds"] >= times["acknowledge"]["seconds"]
        assert times["response_target_seconds"] == 480
        assert review.body["lessons"] == "hydrant map was out of date"
        assert review.body["incident"]["caller_number"] != CALLER
        assert review.body["channels"]["desk"]["attempts"] == 4

        md = await api.call("GET", f"/api/v1/incidents/{ref}/review?format=markdown", role="viewer")
        assert md.status == 200
        assert md.headers["Content-Type"].startswith("text/markdown")
        assert f"# Post-incident review: {ref}" in md.body
        assert "hydrant map was out of date" in md.body
        assert CALLER not in md.body

        # The timeline masks the caller; the incident itself still shows the full number.
        detail = await api.call("GET", f"/api/v1/incidents/{ref}")
        assert detail.body["caller_number"] == CALLER
        created = next(e for e in detail.body["timeline"] if e["kind"] == "incident.created")
        assert created["data"]["caller_number"].startswith("+447") and "*" in created["data"]["caller_number"]
        assert CALLER not in str(detail.body["timeline"])
        kinds = [e["kind"] for e in detail.body["timeline"]]
        for kind in (
            "incident.created",
            "incident.triaged",
            "incident.dispatched",
            "incident.acknowledged",
            "incident.resolved",
            "incident.closed",
        ):
            assert kind in kinds

        # The WebSocket saw it all happen, in order.
        async def streamed() -> list[str]:
            seen = log.kinds(ref)
            for kind in (
                "incident.created",
                "delivery.created",
                "attempt.sent",
                "delivery.sent",
                "delivery.acknowledged",
                "incident.resolved",
                "incident.closed",
            ):
                assert kind in seen, kind
            return seen

        seen = await eventually(streamed)
        assert seen.index("incident.created") < seen.index("delivery.created") < seen.index("incident.closed")
        first = next(e for e in log.events if e["kind"] == "incident.created")
        assert first["incident"] == ref
        assert first["data"]["actor"] == "api:dispatcher-1"
        assert isinstance(first["id"], int)
        await log.stop()


async def test_partial_incident_stays_new_until_completed_and_triaged(api: Api) -> None:
    inc = await api.create(category=None, impact=None, urgency=None)
    ref = inc["reference"]
    assert (inc["state"], inc["priority"], inc["response_due_at"]) == ("new", None, None)
    r = await api.call("POST", f"/api/v1/incidents/{ref}/triage")
    assert r.status == 422
    assert set(r.body["fields"]) == {"category", "impact", "urgency"}
    r = await api.call(
        "PATCH", f"/api/v1/incidents/{ref}", json={"category": "fire", "impact": 2, "urgency": 2}
    )
    assert r.status == 200
    assert (r.body["state"], r.body["priority"]) == ("triaged", "P3")
    r = await api.call("PATCH", f"/api/v1/incidents/{ref}", json={"urgency": 1})
    assert r.body["priority"] == "P2"
    r = await api.call("POST", f"/api/v1/incidents/{ref}/dispatch", json={"resources": ["RESCUE-1"]})
    assert r.status == 201
    assert [d["recipient"] for d in r.body["deliveries"]] == ["RESCUE-1"]
    units = await api.call("GET", "/api/v1/resources")
    rescue = next(u for u in units.body if u["id"] == "RESCUE-1")
    assert (rescue["status"], rescue["current_incident"]) == ("dispatched", ref)


async def test_timeline_masks_personal_data_whoever_wrote_it(api: Api) -> None:
    inc = await api.create()
    async with api.gw.store.write() as tx:
        stored = await tx.get_incident(inc["reference"])
        await tx.record(
            "cti.repeat_call", incident=stored, data={"caller_number": CALLER, "caller_name": "Ada Lovelace"}
        )
    detail = await api.call("GET", f"/api/v1/incidents/{inc['reference']}", role="viewer")
    note = next(e for e in detail.body["timeline"] if e["kind"] == "cti.repeat_call")
    assert note["data"]["caller_number"] == "+447*******21"
    assert note["data"]["caller_name"] == "A** L*******"
    assert detail.body["caller_name"] == "A** L*******"  # a viewer sees personal data masked
    whole = await api.call("GET", f"/api/v1/incidents/{inc['reference']}", role="dispatcher")
    assert whole.body["caller_name"] == "Ada Lovelace"
