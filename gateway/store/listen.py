"""One PostgreSQL LISTEN connection, kept open: the shared loop of the resource notifications
(gateway/store/notify.py) and the cluster's audit events (gateway/cluster/events.py).

A dedicated asyncpg connection LISTENs on one channel; `on_open` runs each time it is (re)opened
(notifications sent while it was closed are lost, so the caller catches up there), and `drain`
runs beside it until the connection is lost, which is noticed by asyncpg's termination listener.
Then the connection is opened again with back-off, until cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

from adapters.backoff import reconnect_delays

log = logging.getLogger(__name__)
Notify = Callable[[object, int, str, str], None]


async def listen_forever(
    dsn: str,
    channel: str,
    *,
    name: str,
    on_notify: Notify,
    on_open: Callable[[], Awaitable[None]],
    drain: Callable[[], Awaitable[None]],
) -> None:
    import asyncpg

    dsn = dsn.replace("postgresql+asyncpg://", "postgresql://", 1)
    delays = reconnect_delays(first=0.5, cap=30.0, jitter=0.2, rng=random.Random())
    while True:
        try:
            conn = await asyncpg.connect(dsn, server_settings={"application_name": name})
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("%s: cannot connect (%s); trying again", name, exc)
            await asyncio.sleep(next(delays))
            continue
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c, lost=lost: lost.set())
        try:
            await conn.add_listener(channel, on_notify)
            await on_open()
            reader = asyncio.ensure_future(drain())
            try:
                await lost.wait()
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            log.warning("%s: connection lost; listening again", name)
        finally:
            with contextlib.suppress(Exception):
                await conn.close()
        await asyncio.sleep(next(delays))
