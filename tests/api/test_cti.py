"""CTI through the webhook route: signed call events create, link and time incidents."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.api.cti import signature
from tests.api.conftest import Api, EventLog, eventually, make_settings, running_api

SECRET = "cti-webhook-secret-0123456789"


@pytest.fixture
async def cti_api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = make_settings(tmp_path)
    settings.cti.webhook_secret = SECRET
    async with running_api(settings) as a:
        yield a


async def post_event(
    api: Api, event: dict[str, Any], *, secret: str = SECRET, ts: float | None = None, tamper: bool = False
) -> Any:
    body = json.dumps(event).encode()
    stamp = str(int(ts if ts is not None else time.time()))
    sig = signature(secret, stamp, body)
    if tamper:
        body = body.replace(b"desk-1", b"desk-2")
    return await api.call(
        "POST",
        "/api/v1/cti/events",
        role=None,
        data=body,
        headers={
            "X-Callout-Timestamp": stamp,
            "X-Callout-Signature": sig,
            "Content-Type": "application/json",
        },
    )


def call(kind: str, call_id: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{call_id}-{kind}-{n}",
        "type": kind,
        "call_id": call_id,
        "caller": "+447700900777",
        "called": "999",
        "desk": "desk-1",
        **extra,
    }


async def test_answered_call_creates_the_incident_and_pops_it_with_history(cti_api: Api) -> None:
    ws = EventLog(await cti_api.ws())
    r = await post_event(cti_api, call("offered", "c1", 1))
    assert (r.status, r.body) == (202, {"result": "offered"})
    r = await post_event(cti_api, call("answered", "c1", 2, caller_name="Grace Hopper"))
    assert r.status == 202 and r.body["result"] == "created"
    ref = r.body["incident"]
    inc = (await cti_api.call("GET", f"/api/v1/incidents/{ref}")).body
    assert (inc["source"], inc["caller_number"], inc["call_id"], inc["state"]) == (
        "call",
        "+447700900777",
        "c1",
        "new",
    )
    assert inc["call_answered_at"] is not None

    async def popped() -> dict[str, Any]:
        pops = [e for e in ws.events if e["kind"] == "call.screen_pop"]
        assert pops
        return pops[0]

    pop = await eventually(popped)
    assert pop["incident"] == ref and pop["data"]["caller"] == "+447*******77"  # masked on the bus
    await ws.stop()


async def test_repeat_call_links_to_the_open_incident(cti_api: Api) -> None:
    first = await post_event(cti_api, call("answered", "c1", 1))
    second = await post_event(cti_api, call("answered", "c2", 1))
    assert second.body == {"result": "linked", "incident": first.body["incident"]}
    listed = (await cti_api.call("GET", "/api/v1/incidents")).body
    assert [i["reference"] for i in listed] == [first.body["incident"]]
    detail = (await cti_api.call("GET", f"/api/v1/incidents/{first.body['incident']}")).body
    assert "call.linked" in [e["kind"] for e in detail["timeline"]]


async def test_ended_call_records_handling_time_per_desk(cti_api: Api) -> None:
    now = time.time()
    r = await post_event(cti_api, call("answered", "c1", 1, at=now - 95))
    await post_event(cti_api, call("ended", "c1", 2, at=now))
    inc = (await cti_api.call("GET", f"/api/v1/incidents/{r.body['incident']}")).body
    assert inc["call_ended_at"] is not None
    metrics = (await cti_api.call("GET", "/metrics", role=None)).body
    assert 'callout_call_handling_average_seconds{desk="desk-1"} 95.0' in metrics
    assert 'callout_calls_total{outcome="answered"} 1.0' in metrics


async def test_a_call_never_answered_is_recorded_as_abandoned_and_makes_no_incident(cti_api: Api) -> None:
    await post_event(cti_api, call("offered", "c9", 1))
    r = await post_event(cti_api, call("ended", "c9", 2, answered=False))
    assert r.body == {"result": "abandoned"}
    assert (await cti_api.call("GET", "/api/v1/incidents?state=all")).body == []
    metrics = (await cti_api.call("GET", "/metrics", role=None)).body
    assert 'callout_calls_total{outcome="abandoned"} 1.0' in metrics


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"secret": "wrong-secret-0123456789"}, 401, "bad_signature"),
        ({"tamper": True}, 401, "bad_signature"),
        ({"ts": time.time() - 3600}, 401, "bad_signature"),
    ],
)
async def test_bad_signatures_and_stale_events_are_refused_and_write_nothing(
    cti_api: Api, kwargs: dict[str, Any], status: int, error: str
) -> None:
    r = await post_event(cti_api, call("answered", "c1", 1), **kwargs)
    assert (r.status, r.body["error"]) == (status, error)
    assert (await cti_api.call("GET", "/api/v1/incidents?state=all")).body == []


async def test_a_replayed_event_is_refused(cti_api: Api) -> None:
    event = call("answered", "c1", 1)
    assert (await post_event(cti_api, event)).status == 202
    again = await post_event(cti_api, event)
    assert again.status == 409
    assert len((await cti_api.call("GET", "/api/v1/incidents?state=all")).body) == 1


async def test_webhooks_are_refused_when_no_secret_is_configured(api: Api) -> None:
    r = await post_event(api, call("answered", "c1", 1))
    assert r.status == 403


async def test_answering_an_unknown_call_is_404_and_needs_a_dispatcher(cti_api: Api) -> None:
    assert (await cti_api.call("POST", "/api/v1/cti/calls/nope/answer", role="viewer")).status == 403
    assert (await cti_api.call("POST", "/api/v1/cti/calls/nope/answer")).status == 404
