"""Leases on the attempts a node sends (docs/architecture.md, "Several nodes").

A node claims due attempts only for the channels it hosts, with `FOR UPDATE SKIP LOCKED`, and
writes a lease (node, expiry) on each attempt it marks `sending`; its heartbeat renews them. An
attempt still `sending` when its lease expires was in flight on a node that died: a node hosting
the channel takes it over and sends it again under the same attempt id (the message id the
channel passes on, so a device can drop the duplicate: at least once, as after a restart). When no
live node hosts the channel, the attempt fails over to the next endpoint of the contact plan."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

from gateway.clock import Clock
from gateway.cluster import nodes
from gateway.cluster.fence import Fence
from gateway.domain.models import Delivery
from gateway.domain.states import CloseReason, DeliveryState
from gateway.engine import ledger
from gateway.engine.picking import Job, Ready, mark_sending
from gateway.settings import NodeSettings
from gateway.store import Store, Tx

log = logging.getLogger(__name__)
D = DeliveryState
TAKEOVER_BATCH = 256
Advance = Callable[[Tx, Delivery], Awaitable[None]]


class Leases:
    def __init__(
        self,
        *,
        store: Store,
        settings: NodeSettings,
        clock: Clock,
        hosts: Collection[str],
        configured: Collection[str],
        fence: Fence | None = None,
    ) -> None:
        self.store = store
        self.fence = fence  # cut off from the store: claim nothing, send nothing (fence.py)
        self.configured = frozenset(configured)  # every channel of the site, hosted here or not
        self.settings = settings
        self.node = settings.name
        self.clock = clock
        self.hosts = frozenset(hosts)
        self.started_at = clock.now()
        self._orphans: frozenset[str] = frozenset()
        self._looked_at = float("-inf")
        self._lapse_check_at = float("-inf")  # leases lapse on a scale of seconds: look that often
        self.taken_over = 0
        self.leader: Callable[[], bool] = lambda: False  # holds the timers lock (timers.py)

    @property
    def poll_every(self) -> float:
        """How often the engine looks for lapsed leases and work announced by nobody."""
        return self.settings.heartbeat_every

    def hosted_elsewhere(self, channel: str) -> bool:
        """A channel of the site that this node does not host and that is not known orphaned."""
        return channel in self.configured and channel not in self.hosts and channel not in self._orphans

    def until(self, now: float) -> float:
        return now + self.settings.lease_seconds

    async def claimable(self, tx: Tx, now: float) -> frozenset[str]:
        """The channels this node claims work for: those it hosts, and those no live node hosts
        (their attempts move to the next endpoint). A node that has just started waits one lease
        before it calls a channel orphaned, so it has seen every live node's heartbeat."""
        if now - self._looked_at >= self.poll_every:
            self._looked_at = now
            if now - self.started_at >= self.settings.lease_seconds:
                live = await nodes.live_hosts(tx.conn, now=now, lease_seconds=self.settings.lease_seconds)
                self._orphans = frozenset(c for c in self.configured - self.hosts if not live.get(c))
        return self.hosts | self._orphans

    async def take_over(self, now: float, *, advance: Advance, own: bool = False) -> list[Job]:
        """Claim attempts whose lease lapsed (or, `own`, this node's from before a restart): each is
        sent again here, or failed over when its channel is hosted by no live node. Their
        deliveries are locked first (skipped when an ack or a receipt holds one) and the attempts
        read again under the lock, as every writer does: a takeover never undoes an ack."""
        jobs: list[Job] = []
        if self._fenced(now):
            return jobs
        if not own:
            if now < self._lapse_check_at:
                return jobs
            self._lapse_check_at = now + self.poll_every / 2
        async for attempt in self.store.retrying(urgent=True):
            async with attempt as tx:
                jobs.clear()
                channels = await self.claimable(tx, now)
                lapsed = await tx.claim_lapsed(now, TAKEOVER_BATCH, channels, node=self.node, own=own)
                if not lapsed:
                    return []
                deliveries = await tx.deliveries_by_ids({a.delivery_id for a, _ in lapsed}, for_update=True)
                await tx.preload_references({d.incident_id for d in deliveries.values()})
                for a, holder in lapsed:
                    d = deliveries[a.delivery_id]
                    if a.channel not in self.hosts:
                        await ledger.move_attempt(
                            tx,
                            d,
                            a,
                            D.FAILED_PERMANENT,
                            now=now,
                            close=CloseReason.CHANNEL_DOWN,
                            reason=f"node {holder or '?'} died and no live node hosts channel {a.channel}",
                        )
                        await advance(tx, d)
                        continue
                    await tx.record(
                        "attempt.resumed" if own else "attempt.taken_over",
                        incident_id=d.incident_id,
                        delivery_id=d.id,
                        attempt_id=a.id,
                        data={
                            "attempt": a.id,
                            "channel": a.channel,
                            "node": self.node,
                            "from_node": holder,
                            "reason": "in flight when the last run stopped"
                            if own
                            else f"the lease of node {holder or '?'} expired",
                        },
                    )
                    jobs.append((a, d, await tx.reference_of(d.incident_id)))
                await tx.hold_leases([a.id for a, _, _ in jobs], node=self.node, until=self.until(now))
        self._leased(jobs, now)
        self.taken_over += 0 if own else len(jobs)
        if jobs:
            log.info("node %s: %s %d attempts", self.node, "resumed" if own else "took over", len(jobs))
        return jobs

    async def claim(self, now: float, free: int, *, ready: Ready) -> list[Job]:
        """Mark up to `free` due attempts `sending` on the channels this node may claim, skipping
        deliveries another node (or an ack) holds locked, and lease them; the picking is the
        engine's own (gateway/engine/picking.py), `ready` its last check."""
        jobs: list[Job] = []
        if free <= 0 or self._fenced(now):
            return jobs
        async with self.store.read() as tx:  # most cycles find nothing: no write for that
            if not await tx.due_attempts(now, 1, await self.claimable(tx, now)):
                return jobs
        async for attempt in self.store.retrying(urgent=True):
            async with attempt as tx:
                found = await tx.due_attempts(now, free, await self.claimable(tx, now), skip_locked=True)
                jobs = await mark_sending(tx, found, now, ready=ready)
                await tx.hold_leases([a.id for a, _, _ in jobs], node=self.node, until=self.until(now))
        self._leased(jobs, now)
        return jobs

    def _fenced(self, now: float) -> bool:
        return self.fence is not None and self.fence.fenced(now)

    def _leased(self, jobs: list[Job], basis: float) -> None:
        if self.fence is not None:
            self.fence.leased([a.id for a, _, _ in jobs], basis=basis)
