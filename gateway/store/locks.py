"""The SQLite writer lock, with a fast lane.

SQLite takes one writer at a time, so writers queue in-process rather than spin on SQLITE_BUSY.
What the field reports (acks, receipts, unit status, send outcomes) must never wait behind a queue
of new incidents: `acquire(urgent=True)` goes ahead of every ordinary waiter, in arrival order.
"""

from __future__ import annotations

import asyncio
import collections


class WriterLock:
    def __init__(self) -> None:
        self._held = False
        self._lent: asyncio.Future[None] | None = None  # set while lent: release() gives it back
        self._urgent: collections.deque[asyncio.Future[None]] = collections.deque()
        self._normal: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self, urgent: bool) -> None:
        if not self._held and not self._urgent and not self._normal:
            self._held = True
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._normal).append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            else:
                queue = self._urgent if urgent else self._normal
                if fut in queue:
                    queue.remove(fut)
            raise

    def release(self) -> None:
        if self._lent is not None:  # a borrower is done: the lender holds the lock again
            lent, self._lent = self._lent, None
            lent.set_result(None)
            return
        waiter = self._next_waiter()
        if waiter is None:
            self._held = False
        else:
            waiter.set_result(None)  # ownership passes straight to the next writer

    def lend(self) -> asyncio.Future[None] | None:
        """The holder lends the lock to the next waiter (urgent first), who holds it until its
        `release()`, which resolves the returned future and gives the lock back to the holder.
        None when nobody waits (the holder keeps the lock). See gateway/store/group_commit.py."""
        waiter = self._next_waiter()
        if waiter is None:
            return None
        self._lent = asyncio.get_running_loop().create_future()
        waiter.set_result(None)
        return self._lent

    def _next_waiter(self) -> asyncio.Future[None] | None:
        """The first writer still waiting, urgent ones first, taken off its queue."""
        for queue in (self._urgent, self._normal):
            while queue:
                fut = queue.popleft()
                if not fut.done():
                    return fut
        return None
