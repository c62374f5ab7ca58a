"""The aiohttp application: routes, middlewares and shutdown hooks, built around one Gateway."""

from __future__ import annotations

import weakref

from aiohttp import web

from gateway import console
from gateway.api import (
    callout,
    channels,
    cluster,
    context,
    cti,
    events,
    hazards,
    health,
    incidents,
    kpis,
    maintenance,
    me,
    merge,
    openapi,
    practice,
    privacy,
    resources,
    schedules,
    survey,
    triage,
)
from gateway.api.auth import auth_middleware
from gateway.api.errors import errors_middleware
from gateway.api.personal_view import ViewAudit
from gateway.api.throttle import FailureThrottle
from gateway.api.tokens import TokenTable
from gateway.app import Gateway

MAX_BODY = 256 * 1024


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer: no MIME sniffing; API answers (which carry personal data) are never cached.
    The console's own files keep their `no-cache` revalidation (gateway/console/__init__.py)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")


def build_app(gw: Gateway) -> web.Application:
    # Errors outermost, so authentication failures are JSON like everything else.
    app = web.Application(middlewares=[errors_middleware, auth_middleware], client_max_size=MAX_BODY)
    app[context.STATE] = context.ApiState(
        gw=gw,
        tokens=TokenTable(gw.settings.api.tokens),
        throttle=FailureThrottle(gw.settings.api.auth_failures_per_minute),
        views=ViewAudit(gw.settings.privacy.view_audit_interval),
        sockets=weakref.WeakSet(),
    )
    modules = (health, cluster, incidents, callout, resources, channels, events, cti, me, kpis, triage)
    desk = (practice, hazards, merge, maintenance, schedules, privacy, survey)
    for module in (*modules, *desk, openapi, console):
        app.router.add_routes(module.routes())
    app.on_response_prepare.append(_security_headers)
    app.on_shutdown.append(events.close_all)
    return app
