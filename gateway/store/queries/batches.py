"""Batches: deliveries and all their attempts loaded once, so a run of transitions works on one
object per row (expiry, outcomes, receipts, bulk acks)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from gateway.domain.models import Attempt, Delivery
from gateway.store.queries.attempts import AttemptQueries
from gateway.store.queries.deliveries import DeliveryQueries


@dataclass(slots=True)
class Batch:
    deliveries: dict[int, Delivery]  # by id
    attempts: dict[int, list[Attempt]]  # every attempt of each delivery, by delivery id
    by_id: dict[int, Attempt]  # the same attempt objects, by attempt id


class BatchQueries(DeliveryQueries, AttemptQueries):
    async def batch_for(self, attempts: Collection[Attempt]) -> Batch:
        """The deliveries of these attempts, locked, and all their attempts read after the lock
        (two queries), so a batch of transitions works on one fresh object per row."""
        deliveries = await self.deliveries_by_ids({a.delivery_id for a in attempts}, for_update=True)
        grouped = await self.attempts_by_delivery(deliveries.keys())
        return Batch(deliveries, grouped, {a.id: a for group in grouped.values() for a in group})
