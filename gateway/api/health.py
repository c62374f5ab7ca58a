"""Probes and the Prometheus scrape; no token needed."""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api import context
from gateway.metrics import KPI_WINDOW
from gateway.services.desk_kpis import Period, desk_kpis, read_desk_rows

log = logging.getLogger(__name__)
READY_TIMEOUT = 3.0


async def healthz(request: web.Request) -> web.Response:
    """The process answers HTTP."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the store answers a query; channel health is reported, not required. Several
    nodes: not ready while this node is fenced (its heartbeat too old to send safely)."""
    gw = context.gateway(request)
    channels = {name: ch.health.state.value for name, ch in gw.channels.items()}
    if gw.heartbeat is not None and gw.heartbeat.fence.fenced():  # cut off: sends nothing
        age = gw.heartbeat.fence.heartbeat_age()
        return web.json_response(
            {
                "status": "unavailable",
                "reason": f"fenced: no heartbeat recorded for {age:.1f}s",
                "node": gw.settings.node.name,
                "channels": channels,
            },
            status=503,
        )
    try:
        async with asyncio.timeout(READY_TIMEOUT), gw.store.read() as tx:
            await tx.conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        log.warning("not ready: store does not answer: %s", type(exc).__name__)
        return web.json_response(
            {"status": "unavailable", "reason": "store does not answer", "channels": channels}, status=503
        )
    body: dict[str, object] = {"status": "ready", "channels": channels}
    if gw.settings.node.clustered:  # several nodes: say which one answered
        body["node"] = gw.settings.node.name
    return web.json_response(body)


async def metrics(request: web.Request) -> web.Response:
    """The registry, with the desk's KPI gauges read from the store first; a store that does not
    answer leaves them as they were (the rest of the scrape is still served)."""
    gw = context.gateway(request)
    now = gw.clock.now()
    try:
        async with asyncio.timeout(READY_TIMEOUT), gw.store.read() as tx:
            rows = await read_desk_rows(tx, now - KPI_WINDOW)
    except Exception as exc:
        log.warning("metrics: desk KPIs not refreshed, the store does not answer: %s", type(exc).__name__)
    else:
        period, window = Period(now - KPI_WINDOW, now), gw.settings.cti.fcr_window
        gw.metrics.publish_desk_kpis(await asyncio.to_thread(desk_kpis, rows, period, now=now, window=window))
    body = generate_latest(gw.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/healthz", healthz, name="healthz"),
        web.get("/readyz", readyz, name="readyz"),
        web.get("/metrics", metrics, name="metrics"),
    ]
