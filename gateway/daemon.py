"""`callout run`: one TaskGroup, graceful shutdown on SIGTERM/SIGINT.

Shutdown order (docs/style.md practice 4): stop intake (the API closes), let in-flight sends finish
for a grace period (what does not finish stays `sending` in the store and resumes at the next
start), then close the channels and the store.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from gateway import systemd
from gateway.api import ApiServer
from gateway.app import Gateway
from gateway.settings import Settings

log = logging.getLogger(__name__)


async def serve(
    settings: Settings,
    *,
    extra: Mapping[str, Callable[[], Coroutine[Any, Any, None]]] | None = None,
    on_ready: Callable[[Gateway, ApiServer], Awaitable[None]] | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Gateway(settings) as gw, asyncio.TaskGroup() as tg:
            runner = tg.create_task(gw.run(extra=extra), name="gateway")
            await gw.ready.wait()
            async with ApiServer(gw, settings.api.host, settings.api.port) as api:
                if gw.heartbeat is not None:
                    gw.heartbeat.api_url = api.url
                log.info(
                    "callout is up: API on %s, %d channels, store %s",
                    api.url,
                    len(gw.channels),
                    "sqlite" if gw.store.is_sqlite else "postgresql",
                )
                if on_ready is not None:
                    await on_ready(gw, api)
                systemd.notify(f"READY=1\nSTATUS=serving the API on {api.url}")
                interval = systemd.watchdog_interval()
                pets = tg.create_task(systemd.watchdog(interval), name="watchdog") if interval else None
                await stop.wait()
                systemd.notify("STOPPING=1\nSTATUS=shutting down")
                log.info("shutting down: intake stopped")
            drained = await gw.engine.drain(settings.delivery.send_timeout)
            log.info("in-flight sends %s", "finished" if drained else "left to resume at next start")
            if pets is not None:  # pinged until the sends are drained
                pets.cancel()
            runner.cancel()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("callout stopped")
    return 0
