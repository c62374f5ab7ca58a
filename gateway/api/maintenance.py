"""/api/v1/maintenance: planned-works windows for channels and resources (gateway/maintenance.py).

GET    /api/v1/maintenance           every window (config and API), with `active` now
POST   /api/v1/maintenance           {"channel" | "resource", "starts_at", "ends_at", "reason"}
DELETE /api/v1/maintenance/{id}      end a window now (a supervisor's call; audited)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from gateway.api import context
from gateway.api.auth import Permission, require
from gateway.api.inputs import read_body
from gateway.maintenance import MaintenanceWindow, Target


class WindowBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    channel: str = ""
    resource: str = ""
    starts_at: AwareDatetime | None = None  # default: now
    ends_at: AwareDatetime
    reason: str = Field("", max_length=500)

    @model_validator(mode="after")
    def _one_target(self) -> WindowBody:
        if bool(self.channel) == bool(self.resource):
            raise ValueError("name exactly one of channel or resource")
        return self


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def window_json(w: MaintenanceWindow, now: float) -> dict[str, Any]:
    return {
        "id": w.id, w.target: w.name, "target": w.target, "starts_at": _iso(w.starts_at),
        "ends_at": _iso(w.ends_at), "reason": w.reason, "source": w.source, "active": w.covers(now),
    }  # fmt: skip


async def list_windows(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    gw = context.gateway(request)
    now = gw.clock.now()
    return web.json_response([window_json(w, now) for w in gw.maintenance.calendar.windows()])


async def create_window(request: web.Request) -> web.Response:
    who = require(request, Permission.INCIDENT_SUPERVISE)
    body = await read_body(request, WindowBody)
    gw = context.gateway(request)
    target: Target = "channel" if body.channel else "resource"
    known = {c.name for c in gw.settings.channels} if body.channel else {r.id for r in gw.settings.resources}
    window = await gw.maintenance.create(
        target=target,
        name=body.channel or body.resource,
        starts_at=body.starts_at.timestamp() if body.starts_at else gw.clock.now(),
        ends_at=body.ends_at.timestamp(),
        reason=body.reason,
        actor=who.actor,
        known=known,
    )
    gw.engine.poke(recheck=True)
    return web.json_response(window_json(window, gw.clock.now()), status=201)


async def end_window(request: web.Request) -> web.Response:
    who = require(request, Permission.INCIDENT_SUPERVISE)
    gw = context.gateway(request)
    window = await gw.maintenance.end(request.match_info["id"], actor=who.actor)
    gw.engine.poke(recheck=True)
    return web.json_response(window_json(window, gw.clock.now()))


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/maintenance", list_windows, name="maintenance-list"),
        web.post("/api/v1/maintenance", create_window, name="maintenance-create"),
        web.delete("/api/v1/maintenance/{id}", end_window, name="maintenance-end"),
    ]
