"""Who sees caller numbers whole, and the audit of each whole read (docs/privacy.md, roles).

Viewers and engineers get caller numbers and names masked in every answer (`+4477*******21`,
`A** L*******`); dispatchers and supervisors (permission `personal.read`) get them whole, and
each such read is an audit event `personal.viewed` naming who, when and which incident. A
desk's queue refreshes every few seconds, so one reader's reads of one incident are audited at
most once per `privacy.view_audit_interval` seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from gateway.api import context, serialize
from gateway.api.auth import Identity, Permission, can
from gateway.domain.models import Incident
from gateway.domain.personal import mask_fields

MAX_REMEMBERED = 50_000  # (reader, incident) pairs kept for coalescing; older ones are dropped


class ViewAudit:
    """When each reader last had each incident's personal data audited (in memory, per process)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[tuple[str, int], float] = {}

    def due(self, actor: str, incident_ids: Sequence[int], now: float) -> list[int]:
        out = [i for i in incident_ids if now - self._last.get((actor, i), -1e18) >= self.interval]
        if len(self._last) + len(out) > MAX_REMEMBERED:
            self._last.clear()
        for i in out:
            self._last[(actor, i)] = now
        return out


async def reveal(request: web.Request, who: Identity, incidents: Sequence[Incident]) -> bool:
    """True when `who` sees personal data whole; audits the read of each incident with some."""
    if not can(who, Permission.PERSONAL_READ):
        return False
    holding = [i.id for i in incidents if i.caller_number or i.caller_name]
    if not holding:
        return True
    api = context.state(request)
    gw = api.gw
    now = gw.clock.now()
    due = api.views.due(who.actor, holding, now)
    if due:
        route = request.match_info.route.name or "?"
        async with gw.store.write() as tx:
            for incident_id in due:
                await tx.record(
                    "personal.viewed",
                    incident_id=incident_id,
                    actor=who.actor,
                    at=now,
                    data={"fields": ["caller_number", "caller_name"], "route": route},
                )
    return True


def incident_json(request: web.Request, inc: Incident, *, whole: bool) -> dict[str, Any]:
    gw = context.gateway(request)
    out = serialize.incident(inc, response_target=gw.incidents.response_target(inc.priority))
    return out if whole else mask_fields(out)


async def incidents_json(
    request: web.Request, who: Identity, incidents: Sequence[Incident]
) -> list[dict[str, Any]]:
    whole = await reveal(request, who, incidents)
    return [incident_json(request, inc, whole=whole) for inc in incidents]
