"""`POST /api/v1/incidents/{ref}/callout`: page a whole group for one incident in one request.

Body: exactly one of `{"capability": "engine"}`, `{"resources": ["ENG-1", …]}` (up to 5,000),
`{"talkgroup": "tg:ALPHA"}` (the units whose contact plan reaches that group address) or
`{"stakeholder_group": "duty-managers"}`. Answer 201: which units were paged and which were
skipped, and why."""

from __future__ import annotations

from typing import Annotated, Self

from aiohttp import web
from pydantic import Field, model_validator

from gateway.api import context
from gateway.api.auth import P, require
from gateway.api.bodies import Body, Short
from gateway.api.inputs import read_body
from gateway.services.callout import Selection

MAX_UNITS = 5000


class CalloutBody(Body):
    capability: Short | None = None
    resources: Annotated[list[Short], Field(min_length=1, max_length=MAX_UNITS)] | None = None
    talkgroup: Short | None = None
    stakeholder_group: Short | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        named = [k for k in ("capability", "resources", "talkgroup", "stakeholder_group") if getattr(self, k)]
        if len(named) != 1:
            raise ValueError("name exactly one of capability, resources, talkgroup, stakeholder_group")
        return self

    def selection(self) -> Selection:
        if self.resources is not None:
            return Selection("resources", list(self.resources))
        if self.capability is not None:
            return Selection("capability", self.capability)
        if self.talkgroup is not None:
            return Selection("talkgroup", self.talkgroup)
        assert self.stakeholder_group is not None
        return Selection("stakeholder_group", self.stakeholder_group)


async def callout(request: web.Request) -> web.Response:
    who = require(request, P.INCIDENT_WRITE)
    body = await read_body(request, CalloutBody)
    gw = context.gateway(request)
    result = await gw.callout.callout(request.match_info["ref"], body.selection(), actor=who.actor)
    return web.json_response(
        {
            "incident": result.incident,
            "dispatch": result.dispatch_id,
            "paged": len(result.selected),
            "resources": result.selected,
            "skipped": result.skipped,
        },
        status=201,
    )


def routes() -> list[web.RouteDef]:
    return [web.post("/api/v1/incidents/{ref}/callout", callout, name="incident-callout")]
