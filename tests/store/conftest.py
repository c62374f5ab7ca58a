"""The store under test: SQLite on a file, and PostgreSQL in a private database made per test.

PostgreSQL comes from CALLOUT_TEST_PG_URL (default: the local server on 127.0.0.1:5432 with trust
auth, as `.ci/run` sets up). It is never skipped: without a server the test fails saying so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.bus import Bus
from gateway.clock import ManualClock
from gateway.store import Store

PG_ADMIN = os.environ.get("CALLOUT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _pg_admin(sql: str) -> None:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is needed at {PG_ADMIN} (set CALLOUT_TEST_PG_URL, or install and start "
            f"the Debian package postgresql as .ci/run does): {exc}"
        )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"
        return
    name = f"callout_test_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with Store(store_url, bus=Bus(), clock=ManualClock()) as s:
        yield s
