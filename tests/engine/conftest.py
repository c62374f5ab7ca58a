"""A real gateway on a SQLite file, scripted channels, and a manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.base import Capabilities
from gateway.app import Gateway
from gateway.clock import ManualClock
from gateway.settings import Settings
from tests.support.pg import private_database
from tests.support.scripted import ScriptedChannel


def make_settings(db: Path | str, **overrides: Any) -> Settings:
    """`db`: a SQLite file path, or a full store URL."""
    url = db if isinstance(db, str) else f"sqlite+aiosqlite:///{db}"
    base: dict[str, Any] = {
        "store": {"url": url},
        "delivery": {
            "retry_base": 10,
            "retry_cap": 100,
            "retry_jitter": 0.0,
            "max_retries": 3,
            "down_recheck": 30,
        },
        "channels": [
            {"name": n, "kind": "webhook", "options": {"url": "http://127.0.0.1:9/"}}
            for n in ("radio", "sms", "pager")
        ],
        "resources": [
            {
                "id": "ENG-1",
                "capabilities": ["fire"],
                "contact_plan": [
                    {"channel": "radio", "address": "R1"},
                    {"channel": "sms", "address": "+447700900001"},
                    {"channel": "pager", "address": "1001"},
                ],
            },
            {
                "id": "ENG-2",
                "capabilities": ["fire"],
                "contact_plan": [
                    {"channel": "radio", "address": "R2"},
                    {"channel": "sms", "address": "+447700900002"},
                ],
            },
        ],
        "stakeholders": [
            {
                "id": "DM-1",
                "groups": ["duty-managers"],
                "contact_plan": [{"channel": "sms", "address": "+447700900099"}],
            }
        ],
    }
    base.update(overrides)
    return Settings(**base)


FIRE = {
    "nature": "kitchen fire",
    "location": "1 High St",
    "category": "fire",
    "impact": 1,
    "urgency": 2,
}  # P2
FIRE_P1 = {**FIRE, "impact": 1, "urgency": 1}


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


class Rig:
    def __init__(self, gw: Gateway, clock: ManualClock, channels: dict[str, ScriptedChannel]) -> None:
        self.gw = gw
        self.clock = clock
        self.ch = channels

    async def settle(self) -> None:
        """Let the engine finish everything that is due now."""
        self.gw.engine.poke()
        await until(self.gw.engine.idle.is_set, "engine idle")

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.settle()

    async def deliveries(self, ref: str) -> list[Any]:
        async with self.gw.store.read() as tx:
            inc = await tx.get_incident(ref)
            return await tx.deliveries_for_incident(inc.id)

    async def attempts(self, ref: str) -> list[Any]:
        async with self.gw.store.read() as tx:
            inc = await tx.get_incident(ref)
            ds = await tx.deliveries_for_incident(inc.id)
            return await tx.attempts_for([d.id for d in ds])

    async def kinds(self, ref: str) -> list[str]:
        async with self.gw.store.read() as tx:
            inc = await tx.get_incident(ref)
            return [e["kind"] for e in await tx.audit_for_incident(inc.id)]


def scripted_channels(caps: dict[str, Capabilities] | None = None) -> dict[str, ScriptedChannel]:
    caps = caps or {}
    return {n: ScriptedChannel(n, caps=caps.get(n)) for n in ("radio", "sms", "pager")}


@pytest.fixture(params=["sqlite", "postgres"])
async def rig_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """A gateway on SQLite and on PostgreSQL: the engine's rules hold on both stores."""
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        db: Path | str = tmp_path / "callout.db"
        if request.param == "postgres":
            db = await stack.enter_async_context(private_database())

        async def make(caps: dict[str, Capabilities] | None = None, **overrides: Any) -> Rig:
            clock = ManualClock()
            channels = scripted_channels(caps)
            gw = await stack.enter_async_context(
                Gateway(make_settings(db, **overrides), clock=clock, channels=channels)
            )
            await stack.enter_async_context(gw.running())
            return Rig(gw, clock, channels)

        yield make
