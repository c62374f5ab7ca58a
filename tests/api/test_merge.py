"""Merge and link: a second caller's incident merged into the first over HTTP. The duplicate is
closed as merged, its call, caller and timeline show on the survivor and in its review, its units
are carried over or stood down (the channel gets the messages), both audit trails record it, and
every clash is a 409 that says why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.cti import CallAnswered
from tests.api.conftest import CALLER, Api, eventually, make_settings, running_api
from tests.support.pg import private_database

SECOND_CALLER = "+447700900555"


async def _resources(api: Api) -> dict[str, dict[str, Any]]:
    r = await api.call("GET", "/api/v1/resources")
    return {x["id"]: x for x in r.body}


async def _dispatched(api: Api, ref: str, units: list[str]) -> None:
    r = await api.call("POST", f"/api/v1/incidents/{ref}/dispatch", json={"resources": units})
    assert r.status == 201, r.body

    async def sent() -> None:
        got = {m.address for m in api.desk.messages(ref, "dispatch")}
        assert {u.lower() for u in units} <= got

    await eventually(sent)


async def test_merge_carries_units_over_stands_the_rest_down_and_audits_both(api: Api) -> None:
    first = (await api.create())["reference"]
    second = (
        await api.create(caller_number=SECOND_CALLER, caller_name="Grace Hopper", nature="flames seen")
    )["reference"]
    await _dispatched(api, first, ["ENG-1"])
    # The second call was dispatched too before anyone saw it was the same fire: ENG-1 again
    # (already on the first) and ENG-2 (only on the second).
    await _dispatched(api, second, ["ENG-1", "ENG-2"])

    r = await api.call(
        "POST", f"/api/v1/incidents/{second}/merge", json={"into": first, "note": "same roof fire"}
    )
    assert r.status == 200, r.body
    assert (r.body["moved"], r.body["stood_down"]) == (["ENG-2"], ["ENG-1"])
    # Both dispatches reached their units (sent) and awaited an ack: no longer awaited.
    assert r.body["cancelled_deliveries"] == 2
    dup = r.body["duplicate"]
    assert (dup["state"], dup["merged_into"], dup["resolution"]) == ("closed", first, f"merged into {first}")
    assert r.body["survivor"]["state"] == "dispatched"

    # The field is told: ENG-2 gets the first incident's dispatch naming the duplicate it
    # replaces; ENG-1 is stood down from the duplicate and carries on.
    async def told() -> None:
        carried = [m for m in api.desk.messages(first, "dispatch") if m.address == "eng-2"]
        assert (
            carried
            and f"Replaces {second} (merged)" in carried[0].text
            and f"ACK {int(first[-6:])}" in carried[0].text
        )
        stood = api.desk.messages(second, "stand_down")
        assert [m.address for m in stood] == ["eng-1"]
        assert f"duplicate of {first}" in stood[0].text and f"Carry on with {first}" in stood[0].text

    await eventually(told)
    units = await _resources(api)
    assert units["ENG-1"]["current_incident"] == first
    assert units["ENG-2"]["current_incident"] == first
    assert units["ENG-2"]["status"] == "dispatched"

    # The survivor shows the duplicate's call, caller (whole for a dispatcher, masked for a
    # viewer) and timeline; both timelines record the merge.
    detail = (await api.call("GET", f"/api/v1/incidents/{first}")).body
    [held] = detail["merged"]
    assert (held["reference"], held["caller_number"], held["caller_name"]) == (
        second,
        SECOND_CALLER,
        "Grace Hopper",
    )
    assert "incident.merged" in [e["kind"] for e in held["timeline"]]
    merged_in = [e for e in detail["timeline"] if e["kind"] == "incident.duplicate_merged"]
    assert len(merged_in) == 1
    assert merged_in[0]["data"]["duplicate"] == second
    assert merged_in[0]["data"]["moved"] == ["ENG-2"]
    assert merged_in[0]["actor"] == "api:dispatcher-1"
    seen = (await api.call("GET", f"/api/v1/incidents/{first}", role="viewer")).body["merged"][0]
    assert seen["caller_number"] != SECOND_CALLER and seen["caller_number"].endswith(SECOND_CALLER[-2:])
    dup_detail = (await api.call("GET", f"/api/v1/incidents/{second}")).body
    [merged] = [e for e in dup_detail["timeline"] if e["kind"] == "incident.merged"]
    assert merged["data"] == {
        "from": "dispatched",
        "state": "closed",
        "into": first,
        "resolution": f"merged into {first}",
        "moved": ["ENG-2"],
        "stood_down": ["ENG-1"],
        "cancelled_deliveries": 2,
        "note": "same roof fire",
    }

    # The carried-over unit acknowledges on the survivor like any dispatch.
    r = await api.call("POST", f"/api/v1/incidents/{first}/acknowledge", json={"resource": "ENG-2"})
    assert r.status == 200, r.body

    # The review export lists the merge, both ways.
    review = (await api.call("GET", f"/api/v1/incidents/{first}/review")).body
    assert [m["reference"] for m in review["merged"]] == [second]
    assert review["merged"][0]["caller_number"] != SECOND_CALLER  # exports are masked
    assert "incident.merged" in [e["kind"] for e in review["merged"][0]["timeline"]]
    md = (await api.call("GET", f"/api/v1/incidents/{first}/review?format=markdown")).body
    assert "## Merged duplicates" in md and f"- {second}: call" in md
    dup_review = (await api.call("GET", f"/api/v1/incidents/{second}/review?format=markdown")).body
    assert f"**Merged into:** {first}" in dup_review


async def test_merge_cancels_what_is_still_going_out_for_the_duplicate(api: Api) -> None:
    api.desk.hang.set()  # the channel takes the sends and never answers: nothing reaches a unit
    first = (await api.create())["reference"]
    second = (await api.create(caller_number=SECOND_CALLER))["reference"]
    r = await api.call("POST", f"/api/v1/incidents/{second}/dispatch", json={"resources": ["RESCUE-1"]})
    assert r.status == 201, r.body
    r = await api.call("POST", f"/api/v1/incidents/{second}/merge", json={"into": first})
    assert r.status == 200, r.body
    # RESCUE-1 was sent to the duplicate only: carried over, its old delivery cancelled.
    assert (r.body["moved"], r.body["stood_down"], r.body["cancelled_deliveries"]) == (["RESCUE-1"], [], 1)
    detail = (await api.call("GET", f"/api/v1/incidents/{second}")).body
    assert [d["state"] for d in detail["deliveries"]] == ["cancelled"]
    assert {a["closed_reason"] for a in detail["deliveries"][0]["attempts"]} == {"incident merged"}
    survivor = (await api.call("GET", f"/api/v1/incidents/{first}")).body
    assert [(d["recipient"], d["purpose"]) for d in survivor["deliveries"]] == [("RESCUE-1", "dispatch")]
    assert survivor["state"] == "dispatched"


async def _refused(api: Api, ref: str, into: str, reason: str) -> dict[str, Any]:
    r = await api.call("POST", f"/api/v1/incidents/{ref}/merge", json={"into": into})
    assert r.status == 409, r.body
    assert (r.body["error"], r.body["reason"]) == ("conflict", reason), r.body
    body: dict[str, Any] = r.body
    return body


async def test_every_refusal_is_a_409_that_says_why(api: Api) -> None:
    a = (await api.create())["reference"]
    b = (await api.create(caller_number=SECOND_CALLER))["reference"]
    c = (await api.create(caller_number="+447700900556"))["reference"]
    d = (await api.create(caller_number="+447700900557"))["reference"]

    body = await _refused(api, a, a, "itself")
    assert body["message"] == f"{a} cannot be merged into itself"

    # Into a closed incident (and a resolved one: both are over).
    assert (await api.call("POST", f"/api/v1/incidents/{c}/resolve", json={})).status == 200
    body = await _refused(api, b, c, "target_closed")
    assert f"{c} is resolved" in body["message"]
    assert (await api.call("POST", f"/api/v1/incidents/{c}/close", role="supervisor", json={})).status == 200
    assert f"{c} is closed" in (await _refused(api, b, c, "target_closed"))["message"]
    # Merging an incident that is over.
    assert f"{c} is closed" in (await _refused(api, c, a, "not_open"))["message"]

    r = await api.call("POST", f"/api/v1/incidents/{b}/merge", json={"into": a})
    assert r.status == 200, r.body
    # Chains: into an incident merged elsewhere, an incident that holds merged ones, twice.
    body = await _refused(api, d, b, "chain")
    assert body["message"] == f"{b} was itself merged into {a}; merge {d} into {a}"
    body = await _refused(api, a, d, "chain")
    assert body["message"] == f"{b} was merged into {a}; merge {d} into {a} instead"
    assert (await _refused(api, b, d, "already_merged"))["message"] == f"{b} was already merged into {a}"
    body = await _refused(api, a, b, "already_merged")  # the other way round
    assert body["message"] == f"{b} was already merged into {a}: they are one incident"

    # Nothing changed by a refusal: d is still open, a still holds only b.
    assert (await api.call("GET", f"/api/v1/incidents/{d}")).body["state"] == "triaged"
    assert [m["reference"] for m in (await api.call("GET", f"/api/v1/incidents/{a}")).body["merged"]] == [b]


async def test_a_new_incident_cannot_take_units_before_triage(api: Api) -> None:
    r = await api.call(
        "POST", "/api/v1/incidents", json={"nature": "a call cut off", "caller_number": CALLER}
    )
    assert r.status == 201 and r.body["state"] == "new", r.body
    bare = r.body["reference"]
    busy = (await api.create(caller_number=SECOND_CALLER))["reference"]
    await _dispatched(api, busy, ["ENG-1"])
    body = await _refused(api, busy, bare, "target_untriaged")
    assert f"merge {bare} into {busy}" in body["message"]
    # The other way round works: the bare one has no units.
    r = await api.call("POST", f"/api/v1/incidents/{bare}/merge", json={"into": busy})
    assert r.status == 200, r.body
    assert (r.body["moved"], r.body["stood_down"]) == ([], [])
    assert (await _resources(api))["ENG-1"]["current_incident"] == busy


async def test_bad_merge_requests(api: Api) -> None:
    a = (await api.create())["reference"]
    r = await api.call("POST", f"/api/v1/incidents/{a}/merge", json={"into": "INC-2026-999999"})
    assert r.status == 404, r.body
    r = await api.call("POST", f"/api/v1/incidents/{a}/merge", json={"into": "yesterday's"})
    assert r.status == 422 and "into" in r.body["fields"], r.body
    r = await api.call("POST", f"/api/v1/incidents/{a}/merge", json={"into": a}, role="viewer")
    assert r.status == 403, r.body


async def test_merge_and_the_desk_kpis_on_postgresql(tmp_path: Path) -> None:
    """The same merge on PostgreSQL (both rows locked FOR UPDATE), and the KPI queries after it."""
    async with private_database() as url:
        settings = make_settings(tmp_path)
        settings.store.url = url
        async with running_api(settings) as api:
            first = (await api.create())["reference"]
            second = (await api.create(caller_number=SECOND_CALLER))["reference"]
            await _dispatched(api, second, ["ENG-2"])
            r = await api.call("POST", f"/api/v1/incidents/{second}/merge", json={"into": first})
            assert r.status == 200, r.body
            assert (r.body["moved"], r.body["duplicate"]["merged_into"]) == (["ENG-2"], first)
            body = await _refused(api, first, second, "already_merged")
            assert body["message"] == f"{second} was already merged into {first}: they are one incident"
            detail = (await api.call("GET", f"/api/v1/incidents/{first}")).body
            assert [m["reference"] for m in detail["merged"]] == [second]
            kpis = (await api.call("GET", "/api/v1/kpis")).body
            assert kpis["first_contact"]["overall"]["contacts"] == 0  # typed at the desk, no call
            assert kpis["handling"]["overall"]["calls"] == 0


async def test_a_repeat_call_from_the_merged_caller_links_to_the_survivor(api: Api) -> None:
    first = (await api.create())["reference"]
    second = (await api.create(caller_number=SECOND_CALLER))["reference"]
    assert (await api.call("POST", f"/api/v1/incidents/{second}/merge", json={"into": first})).status == 200
    now = api.gw.clock.now()
    got = await api.gw.cti.handle(
        CallAnswered(call_id="again-1", at=now, caller=SECOND_CALLER, desk="desk-1")
    )
    assert got == {"result": "linked", "incident": first}
    timeline = (await api.call("GET", f"/api/v1/incidents/{first}")).body["timeline"]
    [linked] = [e for e in timeline if e["kind"] == "call.linked"]
    assert linked["data"]["reason"] == "repeat call; the caller's incident was merged into this one"
    # Once the survivor is over, a call from that number is a new incident again.
    assert (await api.call("POST", f"/api/v1/incidents/{first}/resolve", json={})).status == 200
    got = await api.gw.cti.handle(
        CallAnswered(call_id="again-2", at=now, caller=SECOND_CALLER, desk="desk-1")
    )
    assert got["result"] == "created" and got["incident"] not in (first, second)
