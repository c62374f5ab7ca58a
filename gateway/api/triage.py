"""/api/v1/triage: the rules triage applies, so the desk can show classification and priority
live as a call-taker types (the server still decides when the incident is saved)."""

from __future__ import annotations

from aiohttp import web

from gateway.api import context
from gateway.api.auth import Permission, require


async def triage_rules(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    t = context.gateway(request).settings.triage
    impact_levels, urgency_levels = t.levels
    return web.json_response(
        {
            "matrix": [[p.value for p in row] for row in t.matrix],
            "impact_levels": impact_levels,
            "urgency_levels": urgency_levels,
            "rules": [
                {
                    "category": r.category,
                    "classification": r.classification.value,
                    "capabilities": r.capabilities,
                }
                for r in t.rules
            ],
            "default_classification": t.default_classification.value,
            "categories": [c.model_dump() for c in t.categories],
            "targets": {
                p.value: {
                    "response_target_seconds": target.response_target,
                    "mode": target.mode.value,
                    "ack_deadline_seconds": target.ack_deadline,
                }
                for p, target in t.targets.items()
            },
        }
    )


def routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/triage", triage_rules, name="triage-rules")]
