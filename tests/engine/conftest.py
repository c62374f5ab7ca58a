"""Fixtures for the engine tests: a real gateway on SQLite and on PostgreSQL, scripted channels
and a manual clock (the helpers live in tests/support/engine.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.base import Capabilities
from gateway.app import Gateway
from gateway.clock import ManualClock
from tests.support.engine import Rig, make_settings, scripted_channels
from tests.support.pg import private_database


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
