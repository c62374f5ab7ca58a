"""/api/v1/privacy: subject access and erasure for supervisors (docs/privacy.md).

The number travels in the body, not the path, so it never reaches an access log or a proxy's.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from gateway.api import context
from gateway.api.auth import Permission, require
from gateway.api.bodies import Body, Number
from gateway.api.inputs import read_body


class SubjectBody(Body):
    number: Number


class ErasureBody(SubjectBody):
    reason: Annotated[str, Field(min_length=3, max_length=500)]


async def export(request: web.Request) -> web.Response:
    who = require(request, Permission.PRIVACY_ADMIN)
    body = await read_body(request, SubjectBody)
    return web.json_response(await context.gateway(request).privacy.export(body.number, actor=who.actor))


async def erase(request: web.Request) -> web.Response:
    who = require(request, Permission.PRIVACY_ADMIN)
    body = await read_body(request, ErasureBody)
    gw = context.gateway(request)
    return web.json_response(await gw.privacy.erase(body.number, reason=body.reason, actor=who.actor))


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/privacy/export", export, name="privacy-export"),
        web.post("/api/v1/privacy/erase", erase, name="privacy-erase"),
    ]
