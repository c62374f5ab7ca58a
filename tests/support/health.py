"""Record a channel's or CTI source's health changes, as the gateway sees them (`health_changes()`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from adapters.base import Component, Health


@contextlib.asynccontextmanager
async def health_log(component: Component) -> AsyncIterator[list[Health]]:
    """Every health change of `component` while the body runs, in order."""
    feed = component.health_changes()
    seen: list[Health] = []

    async def collect() -> None:
        async for health in feed:
            seen.append(health)

    task = asyncio.create_task(collect(), name=f"health-log.{component.name}")
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        feed.close()
