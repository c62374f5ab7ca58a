"""/api/v1/cluster: the nodes sharing this database, their last heartbeat, the channels each
hosts and the leases each holds (docs/deployment.md). A gateway without [node] is one node."""

from __future__ import annotations

import socket

from aiohttp import web

from gateway.api import context
from gateway.api.auth import Permission, require
from gateway.cluster import nodes
from gateway.cluster.timers import TIMERS_KEY


async def show(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    gw = context.gateway(request)
    node = gw.settings.node
    now = gw.clock.now()
    if not node.clustered:
        return web.json_response(
            {
                "clustered": False,
                "self": socket.gethostname(),
                "lease_seconds": node.lease_seconds,
                "timers": socket.gethostname(),
                "nodes": [
                    {
                        "name": socket.gethostname(),
                        "alive": True,
                        "hosts": sorted(gw.channels),
                        "leases": None,
                    }
                ],
            }
        )
    async with gw.store.read() as tx:
        found = await nodes.list_nodes(tx.conn, now=now)
        timers = await nodes.timers_holder(tx.conn, key=TIMERS_KEY)
    return web.json_response(
        {
            "clustered": True,
            "self": node.name,
            "lease_seconds": node.lease_seconds,
            "timers": timers,  # the node running escalation sweeps and deadlines
            "nodes": [
                {
                    "name": n.name,
                    "alive": n.heartbeat_at > now - node.lease_seconds,
                    "started_at": n.started_at,
                    "heartbeat_at": n.heartbeat_at,
                    "heartbeat_age": round(max(0.0, now - n.heartbeat_at), 3),
                    "hosts": n.hosts,
                    "api_url": n.api_url,
                    "leases": n.leases,
                }
                for n in found
            ],
        }
    )


def routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/cluster", show, name="cluster")]
