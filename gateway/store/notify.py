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
import contextlib
import logging
import random
from collections.abc import Callable

from adapters.backoff import reconnect_delays
from gateway.domain.models import Resource
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
        import asyncpg

        dsn = self.store.url.replace("postgresql+asyncpg://", "postgresql://", 1)
        delays = reconnect_delays(first=0.5, cap=30.0, jitter=0.2, rng=random.Random())
        while True:
            try:
                conn = await asyncpg.connect(dsn, server_settings={"application_name": "callout-listen"})
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("resource notifications: cannot connect (%s); trying again", exc)
                await asyncio.sleep(next(delays))
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            try:
                await conn.add_listener(CHANNEL, self._on_notify)
                await self._reload_all()  # what changed before we listened was not announced to us
                reader = asyncio.ensure_future(self._read_loop())
                try:
                    await lost.wait()
                finally:
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reader
                log.warning("resource notifications: connection lost; listening again")
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()
            await asyncio.sleep(next(delays))

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
