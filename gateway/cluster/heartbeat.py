"""This node's heartbeat: every `node.heartbeat_seconds` it renews its row in `nodes` and the
leases it holds, in one transaction. A node that stops (killed, cut off from the database) stops
renewing; once `node.lease_seconds` have passed the other nodes take its work over, and a node
still running has fenced itself by then (gateway/cluster/fence.py): each heartbeat that commits
tells the fence, and gives up the leases of the sends the fence stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from gateway.clock import Clock
from gateway.cluster import nodes
from gateway.cluster.fence import Fence
from gateway.settings import NodeSettings
from gateway.store import Store

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, *, store: Store, settings: NodeSettings, clock: Clock, hosts: Sequence[str]) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.hosts = list(hosts)
        self.api_url = ""  # set by the daemon once the API listens
        self.started_at = clock.now()
        self.beats = 0
        # Fenced a little before the lease could lapse elsewhere: half a heartbeat of margin.
        self.fence = Fence(
            clock=clock,
            node=settings.name,
            lease_seconds=settings.lease_seconds,
            margin=settings.heartbeat_every / 2,
        )

    async def beat_once(self) -> None:
        """One heartbeat; given up after a lease (a connection that hangs, as when cut off)."""
        now = self.clock.now()
        given_up: list[int] = []
        async with asyncio.timeout(self.settings.lease_seconds):
            async for attempt in self.store.retrying(urgent=True):
                async with attempt as tx:
                    await nodes.beat(
                        tx.conn,
                        name=self.settings.name,
                        started_at=self.started_at,
                        now=now,
                        hosts=self.hosts,
                        api_url=self.api_url,
                    )
                    until = now + self.settings.lease_seconds
                    await nodes.renew_leases(tx.conn, name=self.settings.name, until=until)
                    given_up = sorted(self.fence.abandoned)
                    await nodes.give_up_leases(tx.conn, name=self.settings.name, ids=given_up, now=now)
        self.fence.given_up(given_up)
        self.fence.beat_ok(now)
        self.beats += 1

    async def run(self) -> None:
        """Beat until cancelled; a beat the store refuses is logged and tried at the next tick."""
        while True:
            await self.clock.sleep(self.settings.heartbeat_every)
            try:
                await self.beat_once()
            except Exception:
                log.exception("node %s: heartbeat not recorded", self.settings.name)
