"""Positions over the API: the field app's fix through the inbound route, shown in the resource
JSON; incident coordinates from the form, validated, and from the gazetteer."""

from __future__ import annotations

from pathlib import Path

from gateway.settings_positions import Gazetteer, Place
from tests.api.conftest import HOOK_SECRET, Api, make_settings, running_api

INBOUND = "/api/v1/channels/hook/inbound"


def _post(api: Api, body: dict[str, object]):  # type: ignore[no-untyped-def]
    return api.call("POST", INBOUND, role=None, headers={"X-Callout-Secret": HOOK_SECRET}, json=body)


async def test_a_fix_from_the_field_app_shows_on_the_resource(api: Api) -> None:
    r = await _post(
        api, {"type": "position", "address": "R1", "lat": 51.51, "lon": -0.12, "observed_at": 1.0e9}
    )
    assert (r.status, r.body) == (200, {"result": "position"})
    r = await _post(
        api, {"type": "position", "address": "R1", "lat": 51.6, "lon": -0.12, "observed_at": 0.9e9}
    )
    assert (r.status, r.body) == (200, {"result": "position older"})  # a late report keeps the newer fix
    units = await api.call("GET", "/api/v1/resources", role="viewer")
    rescue = next(u for u in units.body if u["id"] == "RESCUE-1")
    assert rescue["position"] == {
        "lat": 51.51,
        "lon": -0.12,
        "observed_at": "2001-09-09T01:46:40.000Z",
        "source": "hook",
        "stale_at": "2001-09-09T01:51:40.000Z",  # [positions] max_age, 300 s by default
    }
    assert next(u for u in units.body if u["id"] == "ENG-1")["position"] is None
    r = await _post(api, {"type": "position", "address": "unknown", "lat": 0.0, "lon": 0.0})
    assert r.body == {"result": "position of a station not ours"}
    for bad in (
        {"lat": 95.0, "lon": 0.0},
        {"lat": 1.0},
        {"lat": "1", "lon": 0.0},
        {"lat": 1.0, "lon": 0.0, "x": 1},
    ):
        r = await _post(api, {"type": "position", "address": "R1", **bad})
        assert r.status == 422, (bad, r.body)


async def test_incident_coordinates_from_the_form_or_the_gazetteer(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.gazetteer = Gazetteer(places=[Place(name="High Street", lat=51.4, lon=-0.3)])
    async with running_api(settings) as api:
        inc = await api.create(location="1 High Street")
        assert (inc["lat"], inc["lon"]) == (51.4, -0.3)  # the gazetteer
        inc = await api.create(location="a field off the A1", lat=52.0, lon=-0.25)
        assert (inc["lat"], inc["lon"]) == (52.0, -0.25)  # the form
        same = await api.call(
            "PATCH", f"/api/v1/incidents/{inc['reference']}", json={"location": "a field off the A1"}
        )
        assert (same.body["lat"], same.body["lon"]) == (52.0, -0.25)  # the same place keeps the form's
        r = await api.call(
            "PATCH", f"/api/v1/incidents/{inc['reference']}", json={"location": "2 High Street"}
        )
        assert (r.body["lat"], r.body["lon"]) == (51.4, -0.3)  # a new location: the gazetteer again
        r = await api.call(
            "PATCH", f"/api/v1/incidents/{inc['reference']}", json={"location": "somewhere else"}
        )
        assert (r.body["lat"], r.body["lon"]) == (None, None)  # the old place's coordinates dropped
        r = await api.call("POST", "/api/v1/incidents", json={"nature": "x", "lat": 51.0})
        assert r.status == 422 and set(r.body["fields"]) == {"lat", "lon"}
        r = await api.call("POST", "/api/v1/incidents", json={"nature": "x", "lat": 51.0, "lon": 200.0})
        assert r.status == 422 and "lon" in r.body["fields"]
