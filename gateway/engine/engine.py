"""The delivery engine: drains the outbox to channels, runs deadlines, applies fallback.

State lives in the store, never only in memory: each step is a transaction, so a restart picks
up where the last run stopped. An attempt is marked `sending` before its channel is called; one
found `sending` at start was in flight when the process died and is sent again (at-least-once),
while one already `sent` or `delivered` is never sent again.

Work is done in batches: one transaction marks every due attempt `sending`; channel calls run
concurrently; their outcomes are recorded by one task, many per transaction (see
`gateway.engine.outcomes`): it commits as soon as one outcome is there, with whatever arrived
while the last commit ran (group commit). What a channel accepted is written to the sent journal
at once (`gateway.engine.journal`), so a restart records it instead of sending it again. Each
batch loads its rows first and then transitions them in memory, so the store's unit of work
writes them with a few round trips (see `gateway.store.Tx`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from adapters.backoff import reconnect_delays
from adapters.base import Channel, DeliveryReport, HealthState
from gateway.clock import Clock
from gateway.cluster.fence import Fenced
from gateway.domain.models import Attempt, Delivery
from gateway.domain.states import CloseReason, DeliveryMode, DeliveryState
from gateway.engine import ledger
from gateway.engine.journal import SentJournal
from gateway.engine.outcomes import OutcomeRecorder
from gateway.engine.picking import mark_sending
from gateway.engine.progress import Finish, Start, Step, Wait, next_endpoints
from gateway.engine.receipts import Receipts
from gateway.engine.reports import Report
from gateway.engine.sending import AddressResolver, ChannelSlots, Outcome, call_channel
from gateway.metrics import Metrics
from gateway.policies.ratelimit import RateLimiter
from gateway.settings import DeliverySettings
from gateway.store import Store, Tx

if TYPE_CHECKING:
    from gateway.cluster.leases import Leases

log = logging.getLogger(__name__)
D = DeliveryState
BATCH = 256  # outcomes recorded per transaction at most


class DeliveryEngine:
    def __init__(
        self,
        *,
        store: Store,
        channels: Mapping[str, Channel],
        settings: DeliverySettings,
        clock: Clock,
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
        send_timeouts: Mapping[str, float] | None = None,
        leases: Leases | None = None,
        journal: SentJournal | None = None,
    ) -> None:
        self.store = store
        self.journal = journal  # sends accepted and not yet recorded, kept across a kill
        self.leases = leases  # several nodes: claim with leases (gateway/cluster/leases.py)
        self.send_timeouts = dict(send_timeouts or {})  # per channel, where config sets one
        self.channels = channels
        self.settings = settings
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.rng = rng or random.Random()
        self.limiter = RateLimiter(settings.rate_limits)
        self._wake = asyncio.Event()
        self._recheck = True
        self._waiting: set[int] = set()
        self._in_flight = 0
        self._draining = False
        self._drained = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._channel_slots = ChannelSlots(settings.channel_in_flight)
        self._outcomes: asyncio.Queue[Outcome] = asyncio.Queue()
        self.receipts = Receipts(self)  # delivery reports, and those waiting for their send
        self.idle = asyncio.Event()
        self.in_service: Callable[[str], bool] = lambda _channel: True
        self.resolve_address: AddressResolver | None = None  # `subject:<id>` endpoints (surveys)
        self.outcomes = OutcomeRecorder(
            store=store,
            clock=clock,
            settings=settings,
            metrics=self.metrics,
            rng=self.rng,
            advance=self.advance,
            hedge=self.hedge,
            node=leases.node if leases is not None else None,
        )

    # ---- public ------------------------------------------------------------------------------
    def poke(self, *, recheck: bool = False) -> None:
        """Something changed (new delivery, health, ack): look at the outbox again now."""
        self._recheck = self._recheck or recheck
        self.idle.clear()
        self._wake.set()

    async def drain(self, grace: float) -> bool:
        """Stop starting sends and wait (real time, up to `grace` s) for those under way."""
        self._draining = True
        if self._in_flight == 0:
            return True
        self._drained.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._drained.wait()
        return self._in_flight == 0

    def is_up(self, channel: str) -> bool:
        """The channel can be sent on: not reported down, and not held by `in_service` (planned
        works: gateway/maintenance.py), which counts as down without a health alarm."""
        ch = self.channels.get(channel)
        if not self.in_service(channel):
            return False
        if ch is None:  # several nodes: a channel another live node hosts counts as up here
            return self.leases is not None and self.leases.hosted_elsewhere(channel)
        return ch.health.state is not HealthState.DOWN

    async def advance(self, tx: Tx, d: Delivery, attempts: list[Attempt] | None = None) -> None:
        """Take a delivery's next step inside the caller's transaction (services use this).
        `attempts`: the delivery's attempts when the caller has them already ([] for a new one)."""
        step = await ledger.advance(
            tx,
            d,
            is_up=self.is_up,
            max_rounds=self.settings.plan_rounds,
            now=self.clock.now(),
            attempts=attempts,
        )
        await self._note_step(tx, d, step)

    async def hedge(self, tx: Tx, d: Delivery, attempts: list[Attempt]) -> None:
        """A ladder delivery of a priority that must not wait for retries (`delivery.
        hedge_on_temporary`, P1 by default): its next endpoint opens now, while the attempt that
        failed temporarily is retried; whichever reaches the person first is acknowledged and the
        other is closed with it."""
        if d.mode is not DeliveryMode.LADDER or d.priority not in self.settings.hedge_on_temporary:
            return
        step = next_endpoints(d, self.is_up)
        if step is None:
            return
        now = self.clock.now()
        await ledger.start(tx, d, step, attempts, now=now)
        await ledger.refresh(tx, d, now=now, attempts=attempts)
        await tx.record(
            "delivery.hedged",
            incident_id=d.incident_id,
            delivery_id=d.id,
            data={"delivery": d.id, "endpoints": list(step.indices), "reason": "temporary failure"},
        )
        await self._note_step(tx, d, step)

    async def run(self) -> None:
        """Run until cancelled: the outbox loop, the outcome recorder and the sends, in one TaskGroup."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._recorder(), name="engine.recorder")
            for ch in self.channels.values():
                tg.create_task(self._watch_health(ch), name=f"engine.health.{ch.name}")
            await self._resume(tg)
            pauses = reconnect_delays(first=0.2, cap=5.0, jitter=0.2, rng=self.rng)
            while True:
                try:
                    await self._cycle(tg)
                    await self._wait()
                except Exception:  # the store is away (StoreBusy) or a bug: sends in flight go on
                    log.exception("engine: a cycle failed; trying again")
                    await asyncio.sleep(next(pauses))
                    continue
                pauses = reconnect_delays(first=0.2, cap=5.0, jitter=0.2, rng=self.rng)

    async def _watch_health(self, ch: Channel) -> None:
        """A channel coming up or going down changes what can be sent: look again at once."""
        feed = ch.health_changes()
        try:
            async for _ in feed:
                self.poke(recheck=True)
        finally:
            feed.close()

    # ---- the loop -----------------------------------------------------------------------------
    async def _resume(self, tg: asyncio.TaskGroup) -> None:
        if self.leases is not None:  # only this node's own; the others' are taken over on expiry
            own = await self.leases.take_over(self.clock.now(), advance=self.advance, own=True)
            await self._start_resumed(tg, own)
            return
        jobs: list[tuple[Attempt, Delivery, str]] = []
        async for attempt in self.store.retrying(urgent=True):
            async with attempt as tx:
                jobs.clear()  # a retried transaction starts afresh
                in_flight = await tx.attempts_in_state(D.SENDING)
                deliveries = await tx.deliveries_by_ids({a.delivery_id for a in in_flight})
                await tx.preload_references({d.incident_id for d in deliveries.values()})
                for a in in_flight:
                    d = deliveries[a.delivery_id]
                    jobs.append((a, d, await tx.reference_of(d.incident_id)))
                    await tx.record(
                        "attempt.resumed",
                        incident_id=d.incident_id,
                        delivery_id=d.id,
                        attempt_id=a.id,
                        data={
                            "attempt": a.id,
                            "channel": a.channel,
                            "reason": "in flight when the last run stopped",
                        },
                    )
        await self._start_resumed(tg, jobs)

    async def _start_resumed(self, tg: asyncio.TaskGroup, jobs: list[tuple[Attempt, Delivery, str]]) -> None:
        """Attempts in flight when the last run stopped: one whose acceptance the sent journal
        holds is recorded from it; the others are sent again (at-least-once)."""
        recovered = 0
        for a, d, ref in jobs:
            ch = self.channels.get(a.channel)
            outcome = self.journal.recovered(a, ch.capabilities if ch else None) if self.journal else None
            if outcome is None:
                await self._start(tg, a, d, ref)
                continue
            await self._slots.acquire()
            self._in_flight += 1
            self._outcomes.put_nowait(outcome)
            recovered += 1
        if self.journal is not None:
            self.journal.forget_found()
        if jobs:
            msg = "resumed %d in-flight attempts: %d recorded from the sent journal, %d sent again"
            log.info(msg, len(jobs), recovered, len(jobs) - recovered)

    async def _cycle(self, tg: asyncio.TaskGroup) -> None:
        now = self.clock.now()
        self.receipts.expire(now)
        timers = self.leases is None or self.leases.leader()  # several nodes: one runs deadlines
        if self._recheck and timers:
            self._recheck = False
            await self._progress_stalled()
        if timers:
            await self._expire(now)
        free = self.settings.concurrency - self._in_flight
        if self._draining:
            return
        if self.leases is not None:  # a busy node takes lapsed leases over too (sent as slots free)
            await self._cycle_leased(tg, now, free)
            return
        if free <= 0:
            return
        async with self.store.read() as tx:  # most cycles find nothing: no write lock for that
            if not await tx.due_attempts(now, 1):
                return
        jobs: list[tuple[Attempt, Delivery, str]] = []
        async for attempt in self.store.retrying(urgent=True):
            async with attempt as tx:
                jobs.clear()  # a retried transaction starts afresh
                found = await tx.due_attempts(now, free)
                jobs += await mark_sending(tx, found, now, ready=self._ready)
        for job in jobs:
            await self._start(tg, *job)

    async def _cycle_leased(self, tg: asyncio.TaskGroup, now: float, free: int) -> None:
        """Several nodes: take over lapsed leases, then claim due work under leases."""
        assert self.leases is not None
        jobs = await self.leases.take_over(now, advance=self.advance)
        jobs += await self.leases.claim(now, free - len(jobs), ready=self._ready)
        for job in jobs:
            await self._start(tg, *job)

    async def _ready(self, tx: Tx, d: Delivery, a: Attempt, now: float) -> bool:
        """Skip an endpoint whose channel went down; hold one that is over its rate limit."""
        if not self.is_up(a.channel):
            await ledger.move_attempt(
                tx,
                d,
                a,
                D.FAILED_PERMANENT,
                now=now,
                close=CloseReason.CHANNEL_DOWN,
                reason=self._health_reason(a.channel),
            )
            self.metrics.fallbacks.labels(a.channel, CloseReason.CHANNEL_DOWN).inc()
            await self.advance(tx, d)
            return False
        delay = self.limiter.reserve(a.channel, a.address, now)
        if delay > 0:
            a.next_try_at = now + delay
            await tx.update_attempt(a)
            await tx.record(
                "attempt.rate_limited",
                incident_id=d.incident_id,
                delivery_id=d.id,
                attempt_id=a.id,
                data={"attempt": a.id, "channel": a.channel, "wait_seconds": round(delay, 3)},
            )
            return False
        return True

    async def _wait(self) -> None:
        if self._wake.is_set():
            self._wake.clear()
            return
        async with self.store.read() as tx:
            nxt = await tx.next_wakeup()
        now = self.clock.now()
        timeout = self.settings.down_recheck
        if self.leases is not None:  # leases lapse and other nodes add work: look again soon
            timeout = min(timeout, self.leases.poll_every)
        if nxt is not None:
            timeout = min(timeout, max(0.0, nxt - now))
        if self._wake.is_set():  # poked while we looked: go round again, not idle
            self._wake.clear()
            return
        if self._in_flight == 0 and (nxt is None or nxt > now):
            self.idle.set()
        sleeper = asyncio.ensure_future(self.clock.sleep(timeout))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            done, _ = await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            if sleeper in done:
                self._recheck = self._recheck or bool(self._waiting)
        finally:
            sleeper.cancel()
            waker.cancel()
        self._wake.clear()

    async def _progress_stalled(self) -> None:
        async with self.store.read() as tx:
            if not await tx.stalled_deliveries():
                return
        async for attempt in self.store.retrying(urgent=True):
            async with attempt as tx:
                stalled = await tx.stalled_deliveries()
                attempts = await tx.attempts_by_delivery({d.id for d in stalled})
                for d in stalled:
                    await self.advance(tx, d, attempts[d.id])

    async def _expire(self, now: float) -> None:
        async with self.store.read() as tx:
            if not await tx.expired_waits(now):
                return
        async for attempt in self.store.retrying(urgent=True):
            async with attempt as tx:
                expired = await tx.expired_waits(now)
                batch = await tx.batch_for(expired)
                for stale in expired:
                    a = batch.by_id[stale.id]
                    d = batch.deliveries[a.delivery_id]
                    confirm_by = a.confirm_deadline_at
                    if a.state is D.SENT and confirm_by is not None and confirm_by <= now:
                        await ledger.move_attempt(
                            tx,
                            d,
                            a,
                            D.FAILED_PERMANENT,
                            now=now,
                            close=CloseReason.CONFIRM_TIMEOUT,
                            reason=f"no delivery receipt within {d.confirm_timeout:g}s",
                        )
                        self.metrics.fallbacks.labels(a.channel, CloseReason.CONFIRM_TIMEOUT).inc()
                    else:
                        await ledger.close_attempt(tx, d, a, CloseReason.ACK_TIMEOUT, now=now)
                        self.metrics.fallbacks.labels(a.channel, CloseReason.ACK_TIMEOUT).inc()
                    await self.advance(tx, d, batch.attempts[d.id])

    async def _note_step(self, tx: Tx, d: Delivery, step: Step) -> None:
        if isinstance(step, Wait):
            if d.id not in self._waiting:
                self._waiting.add(d.id)
                await tx.record(
                    "delivery.waiting",
                    incident_id=d.incident_id,
                    delivery_id=d.id,
                    data={"delivery": d.id, "reason": step.reason},
                )
            return
        self._waiting.discard(d.id)
        if isinstance(step, Finish):
            self.metrics.deliveries.labels(step.outcome).inc()
        if isinstance(step, Start):
            tx.after_commit(self.poke)  # the new attempts are visible to the loop only after commit

    def _health_reason(self, channel: str) -> str:
        ch = self.channels.get(channel)
        if ch is None:
            return "no live node hosts this channel" if self.leases else "channel not configured"
        return f"channel down: {ch.health.reason}"

    # ---- sends and their outcomes -------------------------------------------------------------
    async def _start(self, tg: asyncio.TaskGroup, a: Attempt, d: Delivery, ref: str) -> None:
        await self._slots.acquire()
        self._in_flight += 1
        tg.create_task(self._send(a, d, ref), name=f"engine.send.{a.id}")

    async def _send(self, a: Attempt, d: Delivery, ref: str) -> None:
        """Call the channel outside any transaction; the recorder writes down what happened.
        Several nodes: not once this node's lease may lapse (gateway/cluster/fence.py)."""
        fence = self.leases.fence if self.leases is not None else None
        try:
            async with self._channel_slots.hold(a.channel):
                async with fence.sending(a.id) if fence is not None else contextlib.nullcontext():
                    outcome = await call_channel(
                        self.channels.get(a.channel),
                        a,
                        d,
                        ref,
                        send_timeout=self.send_timeouts.get(a.channel, self.settings.send_timeout),
                        clock=self.clock,
                        metrics=self.metrics,
                        resolve=self.resolve_address,
                    )
                if self.journal is not None:
                    self.journal.accepted(outcome, a)  # before anything else: a kill now loses nothing
        except Fenced:  # left `sending` under its lease: the node that takes it over sends it
            self._in_flight -= 1
            self._slots.release()
            if self._in_flight == 0:
                self._drained.set()
            return
        self._outcomes.put_nowait(outcome)

    async def _recorder(self) -> None:
        while True:
            batch = [await self._outcomes.get()]
            while len(batch) < BATCH and not self._outcomes.empty():
                batch.append(self._outcomes.get_nowait())
            try:
                await self._record_until_done(batch)
                if self.journal is not None:
                    self.journal.recorded(o.attempt_id for o in batch)
            finally:
                self._in_flight -= len(batch)
                for _ in batch:
                    self._slots.release()
                if self._in_flight == 0:
                    self._drained.set()
                self.poke()
            await self.receipts.apply_parked(batch)

    async def _record_until_done(self, batch: list[Outcome]) -> None:
        """Record a batch of outcomes, however long the store refuses: an attempt must not stay
        `sending` while the process lives. A batch that fails is split, so one outcome that cannot
        be written never holds back the others; what still fails is tried again with back-off."""
        pending = batch
        delays = reconnect_delays(first=0.05, cap=5.0, jitter=0.2, rng=self.rng)
        while pending:
            try:
                await self.outcomes.record(pending)
                return
            except Exception:
                log.exception("engine: could not record %d send outcomes; trying again", len(pending))
                self.metrics.record_failures.inc()
            if len(pending) > 1:
                still: list[Outcome] = []
                for one in pending:
                    try:
                        await self.outcomes.record([one])
                    except Exception:
                        still.append(one)
                pending = still
                if not pending:
                    return
            await asyncio.sleep(next(delays))

    # ---- delivery reports ---------------------------------------------------------------------
    async def on_report(
        self, channel: str, channel_ref: str, *, delivered: bool, reason: str, evidence: dict[str, Any]
    ) -> str:
        """A delivery receipt from the network: "matched", or "parked" until its send is recorded."""
        report = DeliveryReport(channel_ref, delivered=delivered, reason=reason, evidence=evidence)
        return (await self.on_reports(channel, [report]))[0]

    async def on_reports(self, channel: str, reports: Sequence[Report]) -> list[str]:
        """Receipts (and later evidence) from one channel, in one transaction (`receipts.py`)."""
        return await self.receipts.on_reports(channel, reports)

    @property
    def _parked(self) -> dict[tuple[str, str], tuple[float, Report]]:
        return self.receipts.parked
