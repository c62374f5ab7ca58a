"""A real gateway on a SQLite file (or a store URL), scripted channels and a manual clock: the
settings, sample incident fields and the `Rig` the engine and channel tests drive (tests only,
never shipped)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from adapters.base import Capabilities
from gateway.app import Gateway
from gateway.clock import ManualClock
from gateway.settings import Settings
from tests.support.scripted import ScriptedChannel
from tests.support.waiting import until


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


async def two_nodes(stack: AsyncExitStack) -> tuple[Gateway, Gateway]:
    """Two running gateways in this process on one private PostgreSQL database, both listening
    for the other's changes (the resource directory's LISTEN/NOTIFY)."""
    from tests.support.pg import private_database

    url = await stack.enter_async_context(private_database())
    nodes = []
    for _ in range(2):
        gw = await stack.enter_async_context(
            Gateway(make_settings(url), clock=ManualClock(), channels=scripted_channels())
        )
        await stack.enter_async_context(gw.running())
        nodes.append(gw)
    await asyncio.sleep(0.3)  # both listening
    return nodes[0], nodes[1]
