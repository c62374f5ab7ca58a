"""/api/v1/resources: field units and their status."""

from __future__ import annotations

from aiohttp import web

from gateway.api import context, serialize
from gateway.api.auth import Permission, require
from gateway.api.bodies import UnitStatusBody
from gateway.api.inputs import read_body


async def list_resources(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    gw = context.gateway(request)
    async with gw.store.read() as tx:
        found = await tx.list_resources()
    max_age = gw.settings.positions.max_age
    return web.json_response([serialize.resource(r, max_age=max_age) for r in found])


async def set_status(request: web.Request) -> web.Response:
    who = require(request, Permission.UNIT_STATUS)
    body = await read_body(request, UnitStatusBody)
    gw = context.gateway(request)
    res = await gw.units.set_unit_status(
        request.match_info["id"], body.status, actor=who.actor, evidence={"source": "api"}
    )
    return web.json_response(serialize.resource(res, max_age=gw.settings.positions.max_age))


def routes() -> list[web.RouteDef]:
    status = "/api/v1/resources/{id}/status"
    return [
        web.get("/api/v1/resources", list_resources, name="resource-list"),
        web.patch(status, set_status, name="resource-status"),
        web.post(status, set_status, name="resource-status-post"),
    ]
