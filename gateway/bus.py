"""The in-process dispatch bus: typed events fanned out to subscribers.

Events that change state are appended to the audit trail in the same transaction as the change
and published only after it commits (see `gateway.store.Tx.record`), so a subscriber never sees
something the store does not hold.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from gateway.clock import iso

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BusEvent:
    kind: str  # dotted name, e.g. "incident.created", "attempt.sent", "channel.health"
    at: float
    data: dict[str, Any] = field(default_factory=dict)
    incident: str | None = None  # incident reference
    audit_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.audit_id,
            "kind": self.kind,
            "at": iso(self.at),
            "incident": self.incident,
            "data": self.data,
        }


class Subscription:
    """A bounded queue of events. A subscriber that falls too far behind is cut off, not slowed."""

    def __init__(self, bus: Bus, maxsize: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[BusEvent | None] = asyncio.Queue(maxsize)
        self.overflowed = False

    def _offer(self, event: BusEvent) -> None:
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self._queue.get_nowait()
            self._queue.put_nowait(None)

    def close(self) -> None:
        self._bus._unsubscribe(self)

    async def get(self) -> BusEvent | None:
        """The next event, or None once the subscription overflowed."""
        return await self._queue.get()

    def __aiter__(self) -> AsyncIterator[BusEvent]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[BusEvent]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event


class Bus:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self.published = 0

    def subscribe(self, maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, event: BusEvent) -> None:
        self.published += 1
        for sub in list(self._subs):
            sub._offer(event)
