"""One data-access layer for SQLite (WAL, the embedded default) and PostgreSQL.

`Store.write()` opens a transaction; everything a service does in it commits together or not at
all, and the audit events it recorded are published on the bus only after the commit. The queries
a transaction offers live in gateway/store/queries/, composed into `Tx` (gateway/store/tx.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.bus import Bus
from gateway.clock import Clock
from gateway.store.tx import Tx

MIGRATIONS = Path(__file__).parent / "migrations"


def _run_migrations(sync_conn: sa.Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


class Store:
    def __init__(self, url: str, *, bus: Bus, clock: Clock, echo: bool = False) -> None:
        self.url = url
        self.bus = bus
        self.clock = clock
        self._echo = echo
        self._engine: AsyncEngine | None = None
        self._write_lock = asyncio.Lock()
        self.is_sqlite = url.startswith("sqlite")
        self.references: dict[int, str] = {}

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("store is not open")
        return self._engine

    async def open(self) -> None:
        if self.is_sqlite:
            db_path = self.url.split("///", 1)[-1]
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(self.url, echo=self._echo)
        if self.is_sqlite:
            _sqlite_pragmas(engine)
        self._engine = engine
        async with engine.begin() as conn:
            await conn.run_sync(_run_migrations)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        """A read-write transaction. SQLite allows one writer, so writers queue here, not in a busy loop."""
        async with self._write_lock if self.is_sqlite else _nullcontext(), self.engine.begin() as conn:
            tx = Tx(conn, self)
            yield tx
            await tx.flush()
        for event in tx.events:
            self.bus.publish(event)
        for callback in tx.committed:
            callback()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        async with self.engine.connect() as conn:
            yield Tx(conn, self)


@asynccontextmanager
async def _nullcontext() -> AsyncIterator[None]:
    yield


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()
