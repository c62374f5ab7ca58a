"""The store under test: SQLite on a file, and PostgreSQL in a private database made per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.bus import Bus
from gateway.clock import ManualClock
from gateway.store import Store
from tests.support.pg import private_database


@pytest.fixture(params=["sqlite", "postgres"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"
        return
    async with private_database() as url:
        yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with Store(store_url, bus=Bus(), clock=ManualClock()) as s:
        yield s
