"""/api/v1/schedules: on-call schedules (gateway/schedules.py).

GET /api/v1/schedules                   each schedule with who is on call now and next
GET /api/v1/schedules/{id}/on-call      ?at=<RFC 3339 time with offset> (default: now)
GET /api/v1/schedules/{id}.ics          the next 28 days of shifts as iCalendar (RFC 5545)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gateway.api import context
from gateway.api.auth import Permission, require
from gateway.errors import NotFound, ValidationFailed
from gateway.schedules import Schedule, Shift, ics, on_call_now_and_next


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def _shift(schedule: Schedule, s: Shift | None, names: dict[str, str], at: float) -> dict[str, Any] | None:
    """A shift; `cover` says why its member is on call at `at` (the shift's start if later)."""
    if s is None:
        return None
    name = names.get(s.member, s.member) if s.member else None
    cover = schedule.cover(max(at, s.start)) if s.member else None
    return {"member": s.member, "name": name, "from": _iso(s.start), "until": _iso(s.end), "cover": cover}


def _schedule(request: web.Request) -> tuple[Schedule, dict[str, str]]:
    gw = context.gateway(request)
    sid = request.match_info["id"]
    schedule = gw.core.schedules.get(sid)
    if schedule is None:
        raise NotFound("schedule", sid)
    return schedule, {s.id: s.name for s in gw.core.stakeholders}


def _summary(schedule: Schedule, names: dict[str, str], at: float) -> dict[str, Any]:
    now, following = on_call_now_and_next(schedule, at)
    return {
        "id": schedule.id, "name": schedule.name or schedule.id, "time_zone": schedule.time_zone,
        "rotation": schedule.rotation, "at": _iso(at), "now": _shift(schedule, now, names, at),
        "next": _shift(schedule, following, names, at),
    }  # fmt: skip


async def list_schedules(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    gw = context.gateway(request)
    names = {s.id: s.name for s in gw.core.stakeholders}
    now = gw.clock.now()
    return web.json_response([_summary(s, names, now) for s in gw.core.schedules.values()])


async def on_call(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    schedule, names = _schedule(request)
    raw = request.query.get("at")
    at = context.gateway(request).clock.now()
    if raw is not None:
        try:
            when = datetime.fromisoformat(raw)
        except ValueError:
            raise ValidationFailed(
                {"at": "must be an RFC 3339 time, e.g. 2026-03-29T08:00:00+01:00"}
            ) from None
        if when.tzinfo is None:
            raise ValidationFailed({"at": "needs a UTC offset (e.g. Z or +01:00)"})
        at = when.timestamp()
    return web.json_response(_summary(schedule, names, at))


async def calendar(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    schedule, names = _schedule(request)
    body = ics(schedule, context.gateway(request).clock.now(), names=names)
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{schedule.id}.ics"'},
    )


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/schedules", list_schedules, name="schedule-list"),
        web.get("/api/v1/schedules/{id}/on-call", on_call, name="schedule-on-call"),
        web.get(r"/api/v1/schedules/{id:[^/]+}.ics", calendar, name="schedule-ics"),
    ]
