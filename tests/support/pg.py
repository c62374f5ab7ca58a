"""A private PostgreSQL database per test, on the server named by CALLOUT_TEST_PG_URL (default:
the local server on 127.0.0.1:5432 with trust auth, as `.ci/run` sets up). Never skipped: without
a server the test fails saying what to install."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

PG_ADMIN = os.environ.get("CALLOUT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _admin(sql: str) -> None:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is needed at {PG_ADMIN} (set CALLOUT_TEST_PG_URL, or install and start the "
            f"Debian package postgresql as .ci/run does): {exc}"
        )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def private_database() -> AsyncIterator[str]:
    """Create a database, yield its SQLAlchemy URL, drop it afterwards."""
    name = f"callout_test_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
