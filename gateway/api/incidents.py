"""/api/v1/incidents and /api/v1/callers: the desk's view of incidents and what it may do to them."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api import context, serialize
from gateway.api.auth import Identity, Permission, require
from gateway.api.bodies import (
    AcknowledgeBody,
    CloseBody,
    DispatchBody,
    EmptyBody,
    IncidentCreate,
    IncidentPatch,
    NoteBody,
    normalise_number,
)
from gateway.api.inputs import query_choice, query_int, query_list, read_body
from gateway.api.personal_view import incidents_json
from gateway.app import Gateway
from gateway.domain.models import Delivery, Incident
from gateway.domain.states import OPEN_INCIDENT_STATES, IncidentState, Priority
from gateway.errors import ValidationFailed
from gateway.services.review import build_review, review_markdown

P = Permission


async def one_json(request: web.Request, who: Identity, inc: Incident) -> dict[str, Any]:
    """The incident as `who` may see it (personal data masked, or whole and the read audited)."""
    return (await incidents_json(request, who, [inc]))[0]


async def _deliveries_json(gw: Gateway, deliveries: list[Delivery]) -> list[dict[str, Any]]:
    async with gw.store.read() as tx:
        attempts = await tx.attempts_for([d.id for d in deliveries])
        fresh = [await tx.get_delivery(d.id) for d in deliveries]
    return [serialize.delivery(d, attempts) for d in fresh]


async def _current(request: web.Request, who: Identity, ref: str) -> dict[str, Any]:
    async with context.gateway(request).store.read() as tx:
        inc = await tx.get_incident(ref)
    return await one_json(request, who, inc)


async def create(request: web.Request) -> web.Response:
    who = require(request, P.INCIDENT_WRITE)
    body = await read_body(request, IncidentCreate)
    gw = context.gateway(request)
    inc = await gw.incidents.create(body.fields(), source=body.source, actor=who.actor)
    return web.json_response(
        await one_json(request, who, inc),
        status=201,
        headers={"Location": f"/api/v1/incidents/{inc.reference}"},
    )


async def list_incidents(request: web.Request) -> web.Response:
    who = require(request, P.READ)
    states = query_list(request, "state", [s.value for s in IncidentState] + ["all"])
    if "all" in states:
        states = []
    elif not states:
        states = sorted(s.value for s in OPEN_INCIDENT_STATES)
    priorities = query_list(request, "priority", [p.value for p in Priority])
    categories = query_list(request, "category")
    limit = query_int(request, "limit", default=100, low=1, high=500)
    offset = query_int(request, "offset", default=0, low=0, high=10**9)
    gw = context.gateway(request)
    async with gw.store.read() as tx:
        found = await tx.list_incidents(
            states=states, priorities=priorities, categories=categories, limit=limit, offset=offset
        )
    return web.json_response(await incidents_json(request, who, found))


async def detail(request: web.Request) -> web.Response:
    who = require(request, P.READ)
    gw = context.gateway(request)
    async with gw.store.read() as tx:
        inc = await tx.get_incident(request.match_info["ref"])
        deliveries = await tx.deliveries_for_incident(inc.id)
        attempts = await tx.attempts_for([d.id for d in deliveries])
        audit = await tx.audit_for_incident(inc.id)
        merged = await tx.incidents_merged_into(inc.reference)
        merged_audit = [await tx.audit_for_incident(m.id) for m in merged]
    # The duplicates merged into it, each with its call, caller and timeline (services/merge.py).
    held = [
        {**one, "timeline": [serialize.audit_entry(row) for row in rows]}
        for one, rows in zip(await incidents_json(request, who, merged), merged_audit, strict=True)
    ]
    return web.json_response(
        {
            **(await one_json(request, who, inc)),
            "timeline": [serialize.audit_entry(row) for row in audit],
            "deliveries": [serialize.delivery(d, attempts) for d in deliveries],
            "merged": held,
        }
    )


async def update(request: web.Request) -> web.Response:
    who = require(request, P.INCIDENT_WRITE)
    changes = (await read_body(request, IncidentPatch)).changes()
    if "lessons" in changes:
        require(request, P.INCIDENT_SUPERVISE)
    gw = context.gateway(request)
    inc = await gw.incidents.update(request.match_info["ref"], changes, actor=who.actor)
    return web.json_response(await one_json(request, who, inc))


async def triage(request: web.Request) -> web.Response:
    who = require(request, P.INCIDENT_WRITE)
    await read_body(request, EmptyBody, empty_ok=True)
    gw = context.gateway(request)
    inc = await gw.incidents.triage(request.match_info["ref"], actor=who.actor)
    return web.json_response(await one_json(request, who, inc))


async def dispatch(request: web.Request) -> web.Response:
    who = require(request, P.INCIDENT_WRITE)
    body = await read_body(request, DispatchBody)
    gw = context.gateway(request)
    ref = request.match_info["ref"]
    deliveries = await gw.dispatch.dispatch(ref, body.resource_ids(), actor=who.actor)
    return web.json_response(
        {"incident": await _current(request, who, ref), "deliveries": await _deliveries_json(gw, deliveries)},
        status=201,
    )


async def acknowledge(request: web.Request) -> web.Response:
    who = require(request, P.INCIDENT_WRITE)
    body = await read_body(request, AcknowledgeBody, empty_ok=True)
    gw = context.gateway(request)
    ref = request.match_info["ref"]
    deliveries = await gw.acks.acknowledge(ref, body.resource, actor=who.actor)
    return web.json_response(
        {"incident": await _current(request, who, ref), "deliveries": await _deliveries_json(gw, deliveries)}
    )


async def resolve(request: web.Request) -> web.Response:
    who = require(request, P.INCIDENT_WRITE)
    body = await read_body(request, NoteBody, empty_ok=True)
    gw = context.gateway(request)
    inc = await gw.stand_down.resolve(request.match_info["ref"], actor=who.actor, note=body.note)
    return web.json_response(await one_json(request, who, inc))


async def cancel(request: web.Request) -> web.Response:
    who = require(request, P.INCIDENT_SUPERVISE)
    body = await read_body(request, NoteBody, empty_ok=True)
    gw = context.gateway(request)
    inc = await gw.stand_down.cancel(request.match_info["ref"], actor=who.actor, note=body.note)
    return web.json_response(await one_json(request, who, inc))


async def close(request: web.Request) -> web.Response:
    who = require(request, P.INCIDENT_SUPERVISE)
    body = await read_body(request, CloseBody, empty_ok=True)
    gw = context.gateway(request)
    inc = await gw.stand_down.close(request.match_info["ref"], actor=who.actor, lessons=body.lessons)
    return web.json_response(await one_json(request, who, inc))


async def review(request: web.Request) -> web.Response:
    require(request, P.READ)
    fmt = query_choice(request, "format", ("json", "markdown"), "json")
    gw = context.gateway(request)
    async with gw.store.read() as tx:
        data = await build_review(tx, request.match_info["ref"], gw.settings)
    if fmt == "markdown":
        return web.Response(text=review_markdown(data), content_type="text/markdown", charset="utf-8")
    return web.json_response(data)


async def by_caller(request: web.Request) -> web.Response:
    """Looking incidents up by a whole number needs `personal.read` (viewers and engineers: 403)."""
    who = require(request, P.PERSONAL_READ)
    try:
        number = normalise_number(request.match_info["number"])
    except ValueError as exc:
        raise ValidationFailed({"number": str(exc)}) from None
    limit = query_int(request, "limit", default=5, low=1, high=50)
    gw = context.gateway(request)
    async with gw.store.read() as tx:
        found = await tx.incidents_by_caller(number, limit=limit)
    return web.json_response(await incidents_json(request, who, found))


def routes() -> list[web.RouteDef]:
    one = "/api/v1/incidents/{ref}"
    return [
        web.post("/api/v1/incidents", create, name="incident-create"),
        web.get("/api/v1/incidents", list_incidents, name="incident-list"),
        web.get(one, detail, name="incident"),
        web.patch(one, update, name="incident-update"),
        web.post(f"{one}/triage", triage, name="incident-triage"),
        web.post(f"{one}/dispatch", dispatch, name="incident-dispatch"),
        web.post(f"{one}/acknowledge", acknowledge, name="incident-acknowledge"),
        web.post(f"{one}/resolve", resolve, name="incident-resolve"),
        web.post(f"{one}/cancel", cancel, name="incident-cancel"),
        web.post(f"{one}/close", close, name="incident-close"),
        web.get(f"{one}/review", review, name="incident-review"),
        web.get("/api/v1/callers/{number}/incidents", by_caller, name="caller-incidents"),
    ]
