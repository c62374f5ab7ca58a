"""This node's heartbeat: every `node.heartbeat_seconds` it renews its row in `nodes` and the
leases it holds, in one transaction. A node that stops (killed, cut off from the database) stops
renewing; once `node.lease_seconds` have passed the other nodes take its work over."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gateway.clock import Clock
from gateway.cluster import nodes
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

    async def beat_once(self) -> None:
        now = self.clock.now()
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
        self.beats += 1

    async def run(self) -> None:
        """Beat until cancelled; a beat the store refuses is logged and tried at the next tick."""
        while True:
            await self.clock.sleep(self.settings.heartbeat_every)
            try:
                await self.beat_once()
            except Exception:
                log.exception("node %s: heartbeat not recorded", self.settings.name)
