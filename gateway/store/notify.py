"""PostgreSQL change notifications for resource rows: another node changed a unit, so this
node's resource directory reads the row again (migration 0002 adds the trigger).

One dedicated asyncpg connection LISTENs on `callout_resources` (PostgreSQL manual, NOTIFY:
notifications are delivered between transactions, in commit order). Ids arriving close together
are read back in one query. Changes this node made itself carry its application_name and are
skipped: the directory has them from the commit already. A lost listening connection is opened
again with back-off; each time it is (re)opened every unit is read again, since notifications sent
meanwhile are lost (so are those sent before the first connection)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from gateway.domain.models import Resource
from gateway.store.listen import listen_forever
from gateway.store.store import Store

log = logging.getLogger(__name__)
CHANNEL = "callout_resources"
GATHER_SECONDS = 0.02  # ids that arrive within this are read in one query


class ResourceNotifications:
    def __init__(self, store: Store, apply: Callable[[Resource], None]) -> None:
        self.store = store
        self.apply = apply
        self.received = 0  # notifications from other nodes
        self._ids: set[str] = set()
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Listen until cancelled (PostgreSQL only)."""
        await listen_forever(
            self.store.url,
            CHANNEL,
            name="callout-listen",
            on_notify=self._on_notify,
            on_open=self._reload_all,  # what changed before we listened was not announced to us
            drain=self._read_loop,
        )

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        origin, _, resource_id = payload.partition("|")
        if origin == self.store.application_name or not resource_id:
            return
        self.received += 1
        self._ids.add(resource_id)
        self._wake.set()

    async def _read_loop(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(GATHER_SECONDS)
            self._wake.clear()
            ids, self._ids = self._ids, set()
            async with self.store.read() as tx:
                found = await tx.resources_by_ids(ids)
            for resource in found.values():
                self.apply(resource)

    async def _reload_all(self) -> None:
        async with self.store.read() as tx:
            for resource in await tx.list_resources():
                self.apply(resource)
