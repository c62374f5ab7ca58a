"""Recording send outcomes: a channel call's result becomes the attempt's next state, a retry
with back-off, or a fallback to the next endpoint (the engine's recorder calls this in batches)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any

from adapters.backoff import retry_delay
from gateway.clock import Clock
from gateway.domain.models import Attempt, Delivery
from gateway.domain.personal import redact_text
from gateway.domain.states import CloseReason, DeliveryState
from gateway.engine import ledger
from gateway.engine.progress import settle
from gateway.engine.sending import Outcome
from gateway.metrics import Metrics
from gateway.settings import DeliverySettings
from gateway.store import Store, Tx

D = DeliveryState
Advance = Callable[[Tx, Delivery, list[Attempt] | None], Awaitable[None]]
Hedge = Callable[[Tx, Delivery, list[Attempt]], Awaitable[None]]


class OutcomeRecorder:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        settings: DeliverySettings,
        metrics: Metrics,
        rng: random.Random,
        advance: Advance,
        hedge: Hedge | None = None,
        node: str | None = None,
    ) -> None:
        self.hedge = hedge  # the engine's: open the next endpoint while this one is retried
        self.node = node  # several nodes: this node's name (its leases)
        self.store = store
        self.clock = clock
        self.settings = settings
        self.metrics = metrics
        self.rng = rng
        self.advance = advance  # the engine's next step for a delivery

    async def record(self, batch: list[Outcome]) -> None:
        """Write down a batch of send outcomes in one transaction, its rows loaded once."""
        async for attempt in self.store.retrying(urgent=True):
            async with attempt as tx:
                now = self.clock.now()
                loaded = await tx.batch_for(await tx.attempts_by_ids([o.attempt_id for o in batch]))
                holders = await tx.lease_holders(loaded.by_id) if self.node is not None else {}
                for o in batch:
                    a = loaded.by_id[o.attempt_id]
                    d = loaded.deliveries[a.delivery_id]
                    if self._taken_over(holders.get(a.id)):
                        await self._late(tx, d, a, o, holders.get(a.id))
                    elif o.receipt is not None:
                        await self._sent(tx, d, a, o, attempts=loaded.attempts[d.id], now=now)
                    else:
                        await self._failed(tx, d, a, o, attempts=loaded.attempts[d.id], now=now)

    def _taken_over(self, holder: str | None) -> bool:
        """Several nodes: another node holds the attempt now (this node's lease lapsed while the
        send was under way, e.g. cut off from the database, and the attempt was taken over)."""
        return self.node is not None and holder is not None and holder != self.node

    async def _late(self, tx: Tx, d: Delivery, a: Attempt, o: Outcome, holder: str | None) -> None:
        """The outcome of a send whose attempt another node has taken over: written down, never
        applied, so a failure here cannot reopen the attempt while the other node sends it."""
        error = o.error.reason if o.error is not None else None
        await tx.record(
            "attempt.outcome_after_takeover",
            incident_id=d.incident_id,
            delivery_id=d.id,
            attempt_id=a.id,
            data={
                "attempt": a.id,
                "node": self.node,
                "holder": holder,
                "accepted": o.receipt is not None,
                "error": redact_text(error) if error else None,
            },
        )

    async def _sent(
        self, tx: Tx, d: Delivery, a: Attempt, o: Outcome, *, attempts: list[Attempt], now: float
    ) -> None:
        assert o.receipt is not None
        self.metrics.attempts.labels(a.channel, "sent").inc()
        evidence: dict[str, Any] = {**o.receipt.evidence, **o.evidence}
        if o.receipt.channel_ref is not None:
            evidence["channel_ref"] = o.receipt.channel_ref
        a.channel_ref = o.receipt.channel_ref
        a.sent_at = now
        if a.state is not D.SENDING:
            # Acknowledged or cancelled while the send was under way: keep the evidence only.
            await tx.update_attempt(a)
            await tx.record(
                "attempt.sent_late",
                incident_id=d.incident_id,
                delivery_id=d.id,
                attempt_id=a.id,
                data={"attempt": a.id, "evidence": evidence},
            )
            return
        target = D.DELIVERED if o.receipt.delivered else D.SENT
        if target is D.DELIVERED:
            a.delivered_at = now
        if o.caps is not None and o.caps.confirms_delivery and target is D.SENT:
            a.confirm_deadline_at = now + d.confirm_timeout
        if d.needs_ack:
            a.ack_deadline_at = now + d.ack_timeout
        close = settle(target, needs_ack=d.needs_ack, caps=o.caps) if o.caps else CloseReason.DONE
        await ledger.move_attempt(tx, d, a, target, now=now, evidence=evidence, close=close)
        if close is CloseReason.ONE_WAY:
            self.metrics.fallbacks.labels(a.channel, CloseReason.ONE_WAY).inc()
        await self.advance(tx, d, await ledger.refresh(tx, d, now=now, attempts=attempts))

    async def _failed(
        self, tx: Tx, d: Delivery, a: Attempt, o: Outcome, *, attempts: list[Attempt], now: float
    ) -> None:
        assert o.error is not None
        error = o.error
        evidence = {**error.evidence, **o.evidence, "error": redact_text(error.reason)}
        if a.state is not D.SENDING:
            await tx.record(
                "attempt.failed_late",
                incident_id=d.incident_id,
                delivery_id=d.id,
                attempt_id=a.id,
                data={"attempt": a.id, "evidence": evidence},
            )
            return
        a.tries += 1
        if error.temporary and a.tries <= self.settings.max_retries:
            self.metrics.attempts.labels(a.channel, "failed_temporary").inc()
            delay = retry_delay(
                a.tries,
                base=self.settings.retry_base,
                factor=self.settings.retry_factor,
                cap=self.settings.retry_cap,
                jitter=self.settings.retry_jitter,
                rng=self.rng,
            )
            a.next_try_at = now + delay
            await ledger.move_attempt(
                tx,
                d,
                a,
                D.FAILED_TEMPORARY,
                now=now,
                evidence=evidence,
                reason=f"{error.reason}; retry in {delay:.1f}s",
            )
            await ledger.refresh(tx, d, now=now, attempts=attempts)
            if self.hedge is not None:
                await self.hedge(tx, d, attempts)
            return
        reason = error.reason if not error.temporary else f"{error.reason} (retries exhausted)"
        self.metrics.attempts.labels(a.channel, "failed_permanent").inc()
        self.metrics.fallbacks.labels(a.channel, CloseReason.FAILED).inc()
        await ledger.move_attempt(
            tx, d, a, D.FAILED_PERMANENT, now=now, evidence=evidence, reason=reason, close=CloseReason.FAILED
        )
        await self.advance(tx, d, attempts)
