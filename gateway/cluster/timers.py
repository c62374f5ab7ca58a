"""One-of-a-kind timers across the cluster: escalation sweeps and the engine's deadline expiry
run on exactly one node at a time, the one holding a PostgreSQL session-level advisory lock
(PostgreSQL manual, "Advisory Locks"; `pg_try_advisory_lock`). The lock is held by one dedicated
connection; when its node dies the server ends the session and releases the lock, and another
node's next try takes it over. A node that loses its connection stops running the timers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from adapters.backoff import reconnect_delays
from gateway.settings import NodeSettings
from gateway.store import Store

log = logging.getLogger(__name__)
# The advisory lock key: "callout" in ASCII, one number for every node of one database.
TIMERS_KEY = int.from_bytes(b"callout", "big")


class TimerLock:
    def __init__(self, *, store: Store, settings: NodeSettings) -> None:
        self.store = store
        self.settings = settings
        self._held = False
        self.acquired = 0  # times this node took the timers

    def is_held(self) -> bool:
        return self._held

    async def run(self) -> None:
        """Try for the lock every heartbeat until cancelled; hold it while the session lives."""
        import asyncpg

        dsn = self.store.url.replace("postgresql+asyncpg://", "postgresql://", 1)
        delays = reconnect_delays(first=0.5, cap=10.0, jitter=0.2, rng=random.Random())
        every = self.settings.heartbeat_every
        while True:
            try:
                conn = await asyncpg.connect(
                    dsn, server_settings={"application_name": f"callout-timers-{self.settings.name}"}
                )
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("timers lock: cannot connect (%s); trying again", exc)
                await asyncio.sleep(next(delays))
                continue
            try:
                while True:
                    async with asyncio.timeout(every * 2):
                        if self._held:
                            await conn.fetchval("SELECT 1")  # the session (and the lock) still live
                        elif await conn.fetchval("SELECT pg_try_advisory_lock($1)", TIMERS_KEY):
                            self._held = True
                            self.acquired += 1
                            log.info("node %s runs the one-of-a-kind timers", self.settings.name)
                    await asyncio.sleep(every)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("timers lock: connection lost (%s)", exc)
            finally:
                self._held = False
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)
            await asyncio.sleep(next(delays))
