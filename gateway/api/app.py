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
    health,
    incidents,
    kpis,
    me,
    resources,
    triage,
)
from gateway.api.auth import TokenTable, auth_middleware
from gateway.api.errors import errors_middleware
from gateway.app import Gateway

MAX_BODY = 256 * 1024


def build_app(gw: Gateway) -> web.Application:
    # Errors outermost, so authentication failures are JSON like everything else.
    app = web.Application(middlewares=[errors_middleware, auth_middleware], client_max_size=MAX_BODY)
    app[context.STATE] = context.ApiState(
        gw=gw, tokens=TokenTable(gw.settings.api.tokens), sockets=weakref.WeakSet()
    )
    modules = (health, cluster, incidents, callout, resources, channels, events, cti, me, kpis, triage)
    for module in (*modules, console):
        app.router.add_routes(module.routes())
    app.on_shutdown.append(events.close_all)
    return app
