"""/api/v1/incidents/{ref}/duplicates: open incidents that may report the same event (same
category, same place, within `triage.duplicate_window`), as a hint for the desk; and
/api/v1/incidents/{ref}/merge: merge this one, a duplicate, into another (services/merge.py)."""

from __future__ import annotations

from aiohttp import web

from gateway.api import context
from gateway.api.auth import Permission, require
from gateway.api.bodies import MergeBody
from gateway.api.inputs import read_body
from gateway.api.personal_view import incidents_json
from gateway.clock import iso
from gateway.domain.states import IncidentState as S
from gateway.triage import possible_duplicates

OPEN = [S.NEW, S.TRIAGED, S.DISPATCHED, S.ACKNOWLEDGED, S.ON_SCENE]
SCAN = 500


async def duplicates(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    gw = context.gateway(request)
    async with gw.store.read() as tx:
        inc = await tx.get_incident(request.match_info["ref"])
        # Categories compare ignoring case (gateway/triage.py), so the store is not asked to.
        others = await tx.list_incidents(states=[s.value for s in OPEN], limit=SCAN) if inc.category else []
    found = possible_duplicates(inc, others, gw.settings.triage.duplicate_window)
    created = {o.reference: o.created_at for o in others}  # the console merges the later into the earlier
    return web.json_response(
        {
            "incident": inc.reference,
            "created_at": iso(inc.created_at),
            "duplicates": [
                {"reference": d.reference, "reason": d.reason, "created_at": iso(created[d.reference])}
                for d in found
            ],
        }
    )


async def merge(request: web.Request) -> web.Response:
    who = require(request, Permission.INCIDENT_WRITE)
    body = await read_body(request, MergeBody)
    gw = context.gateway(request)
    done = await gw.merge.merge(request.match_info["ref"], body.into, actor=who.actor, note=body.note)
    duplicate, survivor = await incidents_json(request, who, [done.duplicate, done.survivor])
    return web.json_response(
        {
            "duplicate": duplicate,
            "survivor": survivor,
            "moved": done.moved,
            "stood_down": done.stood_down,
            "cancelled_deliveries": done.cancelled,
        }
    )


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/incidents/{ref}/duplicates", duplicates, name="incident-duplicates"),
        web.post("/api/v1/incidents/{ref}/merge", merge, name="incident-merge"),
    ]
