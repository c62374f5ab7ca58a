"""SQLite statements run in the event loop's own thread; only commits go to a worker thread.

aiosqlite hands every statement to a thread of its own and waits for the answer. A statement on a
warm WAL database takes microseconds, while each hand-off costs a queue put, a wake-up of the
worker, a `call_soon_threadsafe` back and two GIL transfers. Measured end to end through the daemon
(benchmarks/e2e_bench.py), the main thread spent most of its busy time waking aiosqlite's workers.

This module offers SQLAlchemy's `sqlite+aiosqlite` dialect a connection with aiosqlite's interface
whose coroutines run the `sqlite3` call at once. What can block for long goes to a thread: COMMIT
(with `synchronous=FULL` it syncs the WAL to disk, https://sqlite.org/pragma.html#pragma_synchronous)
and closing. The busy timeout is kept short (`BUSY_TIMEOUT_MS`), so a lock held by another process
(an operator's `callout privacy` command, for instance) surfaces as SQLITE_BUSY, which the store
retries with back-off (gateway/store/store.py `retrying`), instead of freezing the loop.

One connection is only ever used by one SQLAlchemy connection at a time (the pool), and a commit
finishes before that connection is used again, so the sqlite3 object is never used from two
threads at once (`check_same_thread=False` allows the hand-over to the commit thread).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

BUSY_TIMEOUT_MS = 200


class InlineCursor:
    """aiosqlite's Cursor interface over a sqlite3 cursor, run in the calling thread."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(
        self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None
    ) -> InlineCursor:
        self._cursor.execute(sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _RunAtOnce:
    """Stands in for aiosqlite's request queue: SQLAlchemy's dialect sets `isolation_level`
    by queueing a function with a future (sqlalchemy/dialects/sqlite/aiosqlite.py)."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except Exception as exc:
            if future is not None:
                future.set_exception(exc)
            return
        if future is not None:
            future.set_result(result)


class InlineConnection:
    """aiosqlite's Connection interface over a sqlite3 connection (see the module docstring)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._connection: sqlite3.Connection | None = conn
        self._tx = _RunAtOnce()

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("Connection closed")
        return self._connection

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def commit(self) -> None:
        conn = self._conn
        if conn.in_transaction:  # nothing to sync otherwise: stay in this thread
            await asyncio.to_thread(conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        conn, self._connection = self._connection, None
        if conn is not None:
            await asyncio.to_thread(conn.close)

    def stop(self) -> None:
        conn, self._connection = self._connection, None
        if conn is not None:
            conn.close()

    async def create_function(self, name: str, num_params: int, func: Callable[..., Any], **kw: Any) -> None:
        self._conn.create_function(name, num_params, func, **kw)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level


def creator(database: str) -> Callable[[], Any]:
    """The `async_creator` for `create_async_engine`: one inline connection per pool slot."""

    async def connect() -> InlineConnection:
        conn = sqlite3.connect(
            database,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,  # the busy handler: sqlite3_busy_timeout()
            uri=database.startswith("file:"),
        )
        conn.isolation_level = None  # the store emits BEGIN itself (store.py `_on_begin`)
        return InlineConnection(conn)

    return connect
