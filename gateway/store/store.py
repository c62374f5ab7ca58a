"""One data-access layer for SQLite (WAL, the embedded default) and PostgreSQL.

`Store.write()` opens a transaction; everything a service does in it commits together or not at
all, and the audit events it recorded are published on the bus only after the commit. The queries
a transaction offers live in gateway/store/queries/, composed into `Tx` (gateway/store/tx.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.backoff import retry_delay
from gateway.bus import Bus
from gateway.clock import Clock
from gateway.domain.models import Resource
from gateway.errors import CalloutError
from gateway.store import sqlite_inline
from gateway.store.group_commit import GroupCommitter
from gateway.store.locks import WriterLock
from gateway.store.transient import StoreBusy, is_transient
from gateway.store.tx import Tx

log = logging.getLogger(__name__)
# Transient failures (deadlock, serialization, SQLITE_BUSY, a dropped connection) are retried
# this many times in all, after 10, 20, 40 … ms (capped at 0.5 s, jittered).
WRITE_TRIES = 8

MIGRATIONS = Path(__file__).parent / "migrations"
# PostgreSQL connections per process: the API's concurrent requests, the engine's cycle and
# recorder, the field pump and the LISTEN loop each hold one while they work. With SQLAlchemy's
# default (5 + 10 overflow) the engine queued for a connection behind the API under load.
POOL_SIZE = 20
POOL_OVERFLOW = 20


def _run_migrations(sync_conn: sa.Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


class Store:
    def __init__(
        self,
        url: str,
        *,
        bus: Bus,
        clock: Clock,
        echo: bool = False,
        sqlite_synchronous: str = "full",
        session_settings: dict[str, str] | None = None,
    ) -> None:
        self.url = url
        self.sqlite_synchronous = sqlite_synchronous
        self.bus = bus
        self.clock = clock
        self._echo = echo
        self.session_settings = dict(session_settings or {})  # PostgreSQL settings per connection
        self._engine: AsyncEngine | None = None
        self.is_sqlite = url.startswith("sqlite")
        self._group = GroupCommitter(WriterLock(), self._published) if self.is_sqlite else None
        self.references: dict[int, str] = {}
        self.retried = 0  # transient failures retried so far
        self.on_retry: Callable[[], None] | None = None  # e.g. a metrics counter
        self._rng = random.Random()
        self.application_name = f"callout-{uuid.uuid4().hex[:12]}"
        # Called with every resource row a committed transaction wrote (the resource directory).
        self.resource_listeners: list[Callable[[Resource], None]] = []

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
        connect_args: dict[str, Any] = {}
        options: dict[str, Any] = {}
        if not self.is_sqlite:  # names this process's changes in the resource notifications
            connect_args["server_settings"] = {
                **self.session_settings,
                "application_name": self.application_name,
            }
            options.update(pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
        if self.is_sqlite:  # statements in the loop's thread, commits in a worker (sqlite_inline.py)
            options["async_creator"] = sqlite_inline.creator(sa.make_url(self.url).database or ":memory:")
        engine = create_async_engine(self.url, echo=self._echo, connect_args=connect_args, **options)
        if self.is_sqlite:
            _sqlite_pragmas(engine, synchronous=self.sqlite_synchronous)
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
    async def write(self, *, urgent: bool = False) -> AsyncIterator[Tx]:
        """A read-write transaction. SQLite allows one writer, so writers queue here, not in a busy
        loop; `urgent` writers (what the field reports) go ahead of ordinary ones, and writers
        queued together commit together (gateway/store/group_commit.py)."""
        if self._group is not None:
            async with self._group.write(self.engine, lambda conn: Tx(conn, self), urgent=urgent) as tx:
                yield tx
            return
        async with self.engine.begin() as conn:
            tx = Tx(conn, self)
            yield tx
            await tx.flush()
        self._published(tx)

    def _published(self, tx: Tx) -> None:
        """After the commit: the transaction's bus events, then its after-commit callbacks."""
        for event in tx.events:
            self.bus.publish(event)
        for callback in tx.committed:
            callback()

    def retrying(self, *, urgent: bool = False) -> Retrying:
        """Transactions that are tried again on a transient store error::

            async for attempt in store.retrying():
                async with attempt as tx:
                    ...  # the whole body runs again after a deadlock or a dropped connection

        The body must read what it needs inside the transaction (a retry starts afresh). After
        the last try the error leaves as `StoreBusy` (the API answers 503 with Retry-After)."""
        return Retrying(self, urgent=urgent)

    def retry_pause(self, tries: int) -> float:
        return retry_delay(tries, base=0.01, factor=2.0, cap=0.5, jitter=0.5, rng=self._rng)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        async with self.engine.connect() as conn:
            yield Tx(conn, self)


class Attempt:
    """One try of a retried transaction, already begun: `async with attempt as tx`."""

    def __init__(self, cm: Any, tx: Tx) -> None:
        self._cm = cm
        self._tx = tx
        self.error: BaseException | None = None  # the transient error that ended this try

    async def __aenter__(self) -> Tx:
        return self._tx

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool:
        try:
            suppress = await self._cm.__aexit__(et, e, tb)
        except Exception as exc:  # the commit itself failed
            if is_transient(exc):
                self.error = exc
                return True
            raise
        if e is not None and not isinstance(e, CalloutError) and is_transient(e):
            self.error = e
            return True
        return bool(suppress)


class Retrying:
    """The iterator behind `Store.retrying()`: each step begins a transaction (retrying the begin
    itself), and the loop ends once a try has committed or raised a real error."""

    def __init__(self, store: Store, *, urgent: bool) -> None:
        self._store = store
        self._urgent = urgent
        self._tries = 0
        self._last: Attempt | None = None
        self._error: BaseException | None = None

    def __aiter__(self) -> Retrying:
        return self

    async def __anext__(self) -> Attempt:
        if self._last is not None:
            if self._last.error is None:  # it committed (a real error has left the loop already)
                raise StopAsyncIteration
            self._error = self._last.error
        while True:
            if self._error is not None:
                await self._pause()
            self._tries += 1
            cm = self._store.write(urgent=self._urgent)
            try:
                tx = await cm.__aenter__()
            except Exception as exc:  # could not begin: connection refused, server restarting
                if not is_transient(exc):
                    raise
                self._error = exc
                continue
            self._last = Attempt(cm, tx)
            return self._last

    async def _pause(self) -> None:
        assert self._error is not None
        self._store.retried += 1
        if self._store.on_retry is not None:
            self._store.on_retry()
        pause = self._store.retry_pause(self._tries)
        if self._tries >= WRITE_TRIES:
            raise StoreBusy(_describe(self._error), tries=self._tries, retry_after=max(1.0, pause)) from (
                self._error
            )
        log.warning("store: %s; trying again in %.0f ms", _describe(self._error), pause * 1000)
        await asyncio.sleep(pause)


def _describe(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return f"{type(orig or exc).__name__}: {str(orig or exc).splitlines()[0][:200]}"


def _sqlite_pragmas(engine: AsyncEngine, *, synchronous: str) -> None:
    """WAL, and `synchronous` FULL by default: the WAL is synced at every commit, so a 2xx means
    the dispatch survives a power cut, not only a crash of the process (NORMAL, the faster
    setting, may lose the last commits on power loss: https://sqlite.org/pragma.html#pragma_synchronous;
    figures in docs/architecture.md, "Durability")."""
    if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError(f"sqlite synchronous must be full, normal or extra, not {synchronous!r}")

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    # Transactions are begun by us, not by sqlite3's implicit BEGIN before the first write, so
    # savepoints (group commit) behave: the recipe in SQLAlchemy's SQLite dialect documentation,
    # "Serializable isolation / Savepoints / Transactional DDL".
    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")
