"""Self-fencing: a node cut off from the database stops sending before its leases can lapse, so
two live nodes never send one attempt at once (docs/deployment.md, "When a node is cut off").

Another node takes an attempt over once its lease has expired: the expiry the holder last wrote,
which is `lease_seconds` after the start of its last heartbeat that committed (the heartbeat
renews every lease the node holds), or after the claim that took it if that claim committed
since. This node keeps the same reckoning in memory: it refuses to start a send whose lease may
expire within `margin` (clock skew between nodes, the start of a send), and cancels a send still
under way at that moment; such an attempt is left `sending` under its lease, for the node that
takes it over. The node as a whole is fenced once its heartbeat is older than the lease less the
margin: it claims nothing and `/readyz` says not ready. When a heartbeat commits again it
resumes; in that heartbeat's transaction it gives up the leases of the sends it stopped (they
lapse at once), so they are taken over again by whichever node, this one included, gets there
first."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

from gateway.clock import Clock

log = logging.getLogger(__name__)


class Fenced(Exception):
    """The attempt's lease may lapse before its send ends: it is not sent by this node."""


class Fence:
    def __init__(self, *, clock: Clock, node: str, lease_seconds: float, margin: float) -> None:
        self.clock = clock
        self.node = node
        self.lease_seconds = lease_seconds
        self.margin = margin
        self.last_ok = float("-inf")  # the start of the last heartbeat that committed
        self.abandoned: set[int] = set()  # attempts not sent because of the fence: leases to give up
        self.trips = 0  # times this node fenced itself
        self._tripped = False
        # attempt -> (the time its lease was reckoned from, when that claim committed), for claims
        # that committed since the last heartbeat began (that heartbeat did not renew them).
        self._leased: dict[int, tuple[float, float]] = {}
        self._sending: dict[int, asyncio.Task[object]] = {}
        self._cut: set[int] = set()  # sends this fence cancelled
        self._changed = asyncio.Event()

    # ---- what the heartbeat and the claims tell it ------------------------------------------
    def beat_ok(self, started_at: float) -> None:
        """A heartbeat that began at `started_at` has committed: every lease held then is renewed."""
        self.last_ok = max(self.last_ok, started_at)
        self._leased = {k: v for k, v in self._leased.items() if v[1] > started_at}
        if self._tripped:
            self._tripped = False
            log.warning("node %s: heartbeat recorded again; sending resumes", self.node)
        self._changed.set()

    def leased(self, ids: Collection[int], *, basis: float) -> None:
        """A claim has just committed leases reckoned from `basis` (their expiry less the lease)."""
        if basis >= self.last_ok:
            return  # expires no sooner than the heartbeat's renewal: the node's reckoning covers it
        committed = self.clock.now()
        for attempt_id in ids:
            self._leased[attempt_id] = (basis, committed)

    # ---- what the node asks it ---------------------------------------------------------------
    def fenced(self, now: float | None = None) -> bool:
        """The heartbeat is too old: claim nothing, start no send, say not ready."""
        now = self.clock.now() if now is None else now
        return now >= self.last_ok + self.lease_seconds - self.margin

    def heartbeat_age(self) -> float:
        return max(0.0, self.clock.now() - self.last_ok)

    def deadline(self, attempt_id: int) -> float:
        """When a send of this attempt must have ended here."""
        basis = self._leased.get(attempt_id, (self.last_ok, 0.0))[0]
        return min(basis, self.last_ok) + self.lease_seconds - self.margin

    @asynccontextmanager
    async def sending(self, attempt_id: int) -> AsyncIterator[None]:
        """Around one channel call: raises `Fenced` if the lease may lapse before it is started,
        or when the fence cancelled it under way."""
        task = asyncio.current_task()
        if task is None or self.clock.now() >= self.deadline(attempt_id):
            self.abandoned.add(attempt_id)
            raise Fenced(f"attempt {attempt_id}: the lease of node {self.node} may have lapsed")
        self._sending[attempt_id] = task
        self._changed.set()
        try:
            yield
        except asyncio.CancelledError:
            if attempt_id not in self._cut:
                raise
            task.uncancel()
            self.abandoned.add(attempt_id)
            raise Fenced(f"attempt {attempt_id}: send stopped, node {self.node} cut off") from None
        finally:
            self._sending.pop(attempt_id, None)
            self._leased.pop(attempt_id, None)
            self._cut.discard(attempt_id)

    def given_up(self, ids: Collection[int]) -> None:
        """The leases of these abandoned attempts are given up in the store."""
        self.abandoned.difference_update(ids)

    # ---- the watchdog --------------------------------------------------------------------------
    async def run(self) -> None:
        """Until cancelled: fence the node when its heartbeat gets too old, and stop each send under
        way when its lease may lapse. Needs nothing from the store."""
        while True:
            now = self.clock.now()
            if not self._tripped and self.fenced(now):
                self._tripped = True
                self.trips += 1
                log.error(
                    "node %s: no heartbeat recorded for %.1fs; not sending until one is",
                    self.node,
                    now - self.last_ok,
                )
            wake = [] if self._tripped else [self.last_ok + self.lease_seconds - self.margin]
            for attempt_id, task in list(self._sending.items()):
                if attempt_id in self._cut:
                    continue
                if now >= self.deadline(attempt_id):
                    self._cut.add(attempt_id)
                    task.cancel()
                    log.warning("node %s: attempt %d stopped mid-send (cut off)", self.node, attempt_id)
                else:
                    wake.append(self.deadline(attempt_id))
            self._changed.clear()
            timeout = min(wake) - now if wake else self.lease_seconds
            sleeper = asyncio.ensure_future(self.clock.sleep(max(0.0, timeout)))
            changed = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait({sleeper, changed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                changed.cancel()
