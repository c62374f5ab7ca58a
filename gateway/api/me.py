"""GET /api/v1/me: who the presented token belongs to and what its role may do.

The desk console asks at sign-in to decide what to show; every other route still checks for itself.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.auth import Permission, can, require


async def me(request: web.Request) -> web.Response:
    who = require(request, Permission.READ)
    allowed = sorted(p.value for p in Permission if can(who, p))
    return web.json_response({"name": who.name, "role": who.role, "permissions": allowed})


def routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/me", me, name="me")]
