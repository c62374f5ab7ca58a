"""Group commit for SQLite: writers queued behind each other share one transaction and one sync.

SQLite has one writer at a time (gateway/store/locks.py queues them) and, at `synchronous=FULL`,
every commit syncs the WAL to disk (about a millisecond here, more on slower disks). With a dozen
writers queued, committing each on its own spends most of the writer's time waiting for the disk.

So the writer that finds no transaction open leads a group: it begins the transaction, runs its
own body inside a savepoint, then lends the writer lock to each writer queued meanwhile (urgent
ones first), which runs its body in a savepoint of the same transaction and gives the lock back.
Once nobody waits (or `MAX_GROUP` bodies have run, or `MAX_GROUP_SECONDS` have passed) the leader
commits once, publishes every member's events and runs their after-commit callbacks, in order,
and only then does each member's `write()` return. A 2xx therefore still means the change is on disk.

A body that fails rolls back to its savepoint and raises to its own caller; the rest of the group
is unaffected. If the commit itself fails, every member sees that error (the store's `retrying()`
runs each body again). The leader's finishing work runs in a task of its own, so a leader that is
cancelled after its body still commits the group it leads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from gateway.store.locks import WriterLock

if TYPE_CHECKING:
    from gateway.store.tx import Tx

MAX_GROUP = 64  # bodies per commit
MAX_GROUP_SECONDS = 0.002  # and no more lending after this long, so an ack waits little for its sync


class _Group:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.members: list[Tx] = []  # bodies that completed, in order
        self.runs = 0
        self.broken: BaseException | None = None  # the transaction cannot be committed
        loop = asyncio.get_running_loop()
        self.started = loop.time()
        self.done: asyncio.Future[None] = loop.create_future()


class GroupCommitter:
    def __init__(self, lock: WriterLock, publish: Callable[[Tx], None]) -> None:
        self._lock = lock
        self._publish = publish  # a committed member's events and callbacks
        self._group: _Group | None = None
        self.commits = 0
        self.bodies = 0

    @asynccontextmanager
    async def write(
        self, engine: AsyncEngine, make_tx: Callable[[AsyncConnection], Tx], *, urgent: bool
    ) -> AsyncIterator[Tx]:
        await self._lock.acquire(urgent)
        group = self._group
        leader = group is None
        if group is None:
            try:
                conn = await engine.connect()
                try:
                    await conn.begin()
                except BaseException:
                    await conn.close()
                    raise
            except BaseException:
                self._lock.release()
                raise
            group = self._group = _Group(conn)
        try:
            tx, savepoint = await self._body(group, make_tx)
            ok = False
            try:
                yield tx
                await tx.flush()
                ok = True
            finally:
                await self._end_body(group, tx, savepoint, ok)
        finally:
            if leader:
                finishing = asyncio.ensure_future(self._finish(group))
                await asyncio.shield(finishing)  # the group is committed even if we are cancelled
            else:
                self._lock.release()  # back to the leader
        await asyncio.shield(group.done)  # raises the commit's error, if it failed

    async def _body(
        self, group: _Group, make_tx: Callable[[AsyncConnection], Tx]
    ) -> tuple[Tx, AsyncTransaction]:
        group.runs += 1
        if group.broken is not None:
            raise group.broken
        savepoint = await group.conn.begin_nested()
        return make_tx(group.conn), savepoint

    async def _end_body(self, group: _Group, tx: Tx, savepoint: AsyncTransaction, ok: bool) -> None:
        try:
            if ok:
                await savepoint.commit()  # RELEASE: part of the group's transaction now
                group.members.append(tx)
            else:
                await savepoint.rollback()  # only this body's changes go
        except BaseException as exc:
            group.broken = exc  # the connection is in an unknown state: fail the whole group
            raise

    async def _finish(self, group: _Group) -> None:
        deadline = group.started + MAX_GROUP_SECONDS
        while group.runs < MAX_GROUP and asyncio.get_running_loop().time() < deadline:
            back = self._lock.lend()
            if back is None:
                break
            await back
        error: BaseException | None = group.broken
        if error is None:
            try:
                await group.conn.commit()
            except BaseException as exc:
                error = exc
        try:
            await group.conn.close()  # rolls back what a failed commit left
        finally:
            self._group = None
            self.commits += 1
            self.bodies += len(group.members)
            self._lock.release()
            if error is None:
                for tx in group.members:  # before any member's write() returns
                    self._publish(tx)
                group.done.set_result(None)
            else:
                group.done.set_exception(error)
                group.done.exception()  # retrieved here: each member re-raises it
