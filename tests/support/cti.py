"""Collects a CTI source's call events in the background for tests (tests only, never shipped)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from adapters.cti import CtiEvent, CtiSource


class Recorder:
    """Drains a source's events, stamping when each one reached asyncio."""

    timeout = 5.0  # default bound of `until`, in seconds

    def __init__(self, source: CtiSource) -> None:
        self.source = source
        self.events: list[CtiEvent] = []
        self.arrived: list[float] = []
        self._changed = asyncio.Event()

    async def __aenter__(self) -> Recorder:
        self._task = asyncio.create_task(self._drain(), name="test.recorder")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _drain(self) -> None:
        events: AsyncIterator[CtiEvent] = self.source.events()
        async for event in events:
            self.events.append(event)
            self.arrived.append(time.time())
            self._changed.set()

    def of(self, kind: type[CtiEvent], call_id: str | None = None) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and call_id in (None, e.call_id)]

    async def until(self, kind: type[CtiEvent], count: int, timeout: float | None = None) -> list[Any]:
        async with asyncio.timeout(self.timeout if timeout is None else timeout):
            while len(self.of(kind)) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.of(kind)

    async def settle(self, quiet: float = 0.2) -> None:
        await asyncio.sleep(quiet)
