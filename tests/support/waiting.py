"""Waiting for something to happen in a test, in real time (tests only, never shipped)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def until(predicate: Callable[[], Awaitable[bool] | bool], what: str, timeout: float = 5.0) -> None:
    """Poll (real time) until the predicate holds; fail saying what did not happen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.01)
