"""The CTI source contract: where calls come from (SIP desk endpoint, Asterisk AMI, webhooks).

A CTI source is an async context manager; `events()` yields call events as they happen. The core's
CTI service turns `CallAnswered` into an incident and `CallEnded` into handling time
(docs/architecture.md, "the flow of one incident").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from adapters.base import Component


@dataclass(frozen=True, slots=True)
class CallEvent:
    call_id: str  # SIP Call-ID, AMI Linkedid, or the platform's call id
    at: float  # POSIX seconds when it happened
    caller: str | None = None  # caller number (P-Asserted-Identity, else From; AMI CallerIDNum)
    caller_name: str | None = None
    called: str | None = None  # the number or extension dialled
    desk: str | None = None  # which desk / agent / endpoint took it
    source: str = ""  # the CTI source's configured name
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallOffered(CallEvent):
    """Ringing at the desk."""


@dataclass(frozen=True, slots=True)
class CallAnswered(CallEvent):
    """Picked up by the desk: the moment the incident should exist."""


@dataclass(frozen=True, slots=True)
class CallEnded(CallEvent):
    """Hung up. `answered` False: abandoned before anyone picked up."""

    answered: bool = True
    reason: str = ""


CtiEvent = CallOffered | CallAnswered | CallEnded


class CtiSource(Component):
    """Base class: a queue of call events and the lifecycle skeleton; subclasses do the I/O."""

    def __init__(self, *, name: str) -> None:
        super().__init__(name=name)
        self._events: asyncio.Queue[CtiEvent] = asyncio.Queue()

    def emit(self, event: CtiEvent) -> None:
        self._events.put_nowait(event)

    async def events(self) -> AsyncIterator[CtiEvent]:
        while True:
            yield await self._events.get()

    async def event_batches(self, limit: int = 256) -> AsyncIterator[list[CtiEvent]]:
        """Call events as they queue up: each batch is everything waiting, up to `limit`."""
        while True:
            batch = [await self._events.get()]
            while len(batch) < limit and not self._events.empty():
                batch.append(self._events.get_nowait())
            yield batch

    async def answer(self, call_id: str) -> None:
        """Pick up a ringing call on the dispatcher's behalf (sources that can; others refuse)."""
        raise NotImplementedError(f"{self.kind} cannot answer calls")
