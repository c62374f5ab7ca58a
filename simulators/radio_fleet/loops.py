"""The fleet's background loops: named, owned by one task group, none of them fire-and-forget.

`Loops` is an async context manager: an `AsyncExitStack` owns the `TaskGroup`, and leaving it
cancels every loop, then waits for them. Each loop runs guarded: a crash is logged and the loop is
started again after `restart_after` seconds, so it never reaches the task group (which would
cancel the task that entered the fleet, a test or the CLI).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Self

log = logging.getLogger(__name__)
Loop = Callable[[], Coroutine[Any, Any, None]]


class Loops:
    def __init__(self, prefix: str, *, restart_after: float = 1.0) -> None:
        self.prefix = prefix
        self.restart_after = restart_after
        self._stack: AsyncExitStack | None = None
        self._group: asyncio.TaskGroup | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def __aenter__(self) -> Self:
        stack = AsyncExitStack()
        self._group = await stack.enter_async_context(asyncio.TaskGroup())
        stack.callback(self._cancel)  # runs before the group waits for the loops
        self._stack = stack
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
        self._group = None
        self._tasks.clear()

    def start(self, what: str, loop: Loop) -> asyncio.Task[None]:
        if self._group is None:
            raise RuntimeError(f"{self.prefix}: start({what!r}) before the loops are entered")
        name = f"{self.prefix}.{what}"
        task = self._group.create_task(self._guarded(name, loop), name=name)
        self._tasks[what] = task
        return task

    async def _guarded(self, name: str, loop: Loop) -> None:
        while True:
            try:
                await loop()
                return
            except Exception:  # a simulator bug must not cancel whoever runs the simulator
                log.exception("%s crashed; starting it again in %gs", name, self.restart_after)
            await asyncio.sleep(self.restart_after)

    def _cancel(self) -> None:
        for task in self._tasks.values():
            task.cancel()
