"""/api/v1/hazards: the hazards register (`[[hazards]]`), or the hazards at a location as typed
(`?location=`), so the desk sees them before anything is saved; and the hazards of an incident."""

from __future__ import annotations

from aiohttp import web

from gateway.api import context
from gateway.api.auth import Permission, require
from gateway.api.errors import ApiError
from gateway.policies.hazards import match_hazards, warning_text
from gateway.settings_sections import Hazard

MAX_LOCATION = 500


class LocationTooLong(ApiError):
    status = 422
    error = "validation"


def _json(found: list[Hazard]) -> dict[str, object]:
    return {
        "hazards": [{"id": h.id, "kind": h.kind, "places": h.places, "note": h.note} for h in found],
        "warning": warning_text(found),
    }


async def register(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    hazards = context.gateway(request).settings.hazards
    location = request.query.get("location")
    if location is None:
        return web.json_response(_json(list(hazards)))
    if len(location) > MAX_LOCATION:
        raise LocationTooLong(
            "location too long", extra={"fields": {"location": f"at most {MAX_LOCATION} characters"}}
        )
    return web.json_response(_json(match_hazards(location, hazards)))


async def of_incident(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    gw = context.gateway(request)
    async with gw.store.read() as tx:
        inc = await tx.get_incident(request.match_info["ref"])
    return web.json_response(
        {"incident": inc.reference, **_json(match_hazards(inc.location, gw.settings.hazards))}
    )


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/hazards", register, name="hazards"),
        web.get("/api/v1/incidents/{ref}/hazards", of_incident, name="incident-hazards"),
    ]
