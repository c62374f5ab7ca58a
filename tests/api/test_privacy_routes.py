"""Subject access and erasure through the API: supervisors only, the number in the body."""

from __future__ import annotations

from tests.api.conftest import CALLER, Api


async def test_a_supervisor_exports_and_erases_and_others_may_not(api: Api) -> None:
    ref = (await api.create(category="enquiry", impact=3, urgency=3))["reference"]
    for role in ("viewer", "engineer", "dispatcher"):
        r = await api.call("POST", "/api/v1/privacy/export", role=role, json={"number": CALLER})
        assert r.status == 403 and r.body["required"] == "privacy.admin"
    r = await api.call(
        "POST", "/api/v1/privacy/erase", role="supervisor", json={"number": CALLER, "reason": "DSR-1"}
    )
    assert r.status == 409 and "still open" in r.body["message"]
    assert (await api.call("POST", f"/api/v1/incidents/{ref}/resolve", json={})).status == 200
    r = await api.call(
        "POST", "/api/v1/privacy/erase", role="supervisor", json={"number": CALLER, "reason": "DSR-1"}
    )
    assert r.status == 409  # resolved is not finished: the review is still to come
    assert (
        await api.call("POST", f"/api/v1/incidents/{ref}/close", role="supervisor", json={})
    ).status == 200
    r = await api.call(
        "POST", "/api/v1/privacy/export", role="supervisor", json={"number": "+44 7700 900121"}
    )
    assert r.status == 200
    assert [i["reference"] for i in r.body["incidents"]] == [ref]
    assert r.body["incidents"][0]["caller_name"] == "Ada Lovelace"
    r = await api.call(
        "POST", "/api/v1/privacy/erase", role="supervisor", json={"number": CALLER, "reason": "DSR-1"}
    )
    assert r.status == 200 and r.body["incidents"] == [ref]
    detail = (await api.call("GET", f"/api/v1/incidents/{ref}", role="supervisor")).body
    assert (detail["caller_number"], detail["caller_name"]) == (None, None)
    kinds = [e["kind"] for e in detail["timeline"]]
    assert "personal.exported" in kinds and kinds[-1] == "personal.erased"
    assert "by api:supervisor-1 because DSR-1" in detail["timeline"][-1]["data"]["message"]
    r = await api.call("POST", "/api/v1/privacy/erase", role="supervisor", json={"number": CALLER})
    assert r.status == 422 and "reason" in r.body["fields"]
