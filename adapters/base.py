"""The Channel contract every radio, pager, SMS and voice adapter implements (ARCHITECTURE.md).

A channel is an async context manager. `send` hands one message to the device or network and
returns a receipt, or raises `ChannelError` saying whether the failure is temporary (retry on the
same channel) or permanent (move to the next endpoint). Inbound traffic (delivery reports, replies,
acks, unit status) arrives through the async iterator `events()`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

from gateway.errors import ChannelError

__all__ = [
    "Capabilities",
    "Channel",
    "ChannelError",
    "ChannelEvent",
    "DeliveryReport",
    "Health",
    "HealthState",
    "InboundText",
    "OutboundMessage",
    "RadioAck",
    "SendReceipt",
    "UnitStatusReport",
]


class HealthState(StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Health:
    state: HealthState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can promise, so the engine never waits for evidence that cannot come."""

    max_length: int = 160
    max_parts: int = 1  # >1: the channel sends a long message as several parts
    confirms_delivery: bool = False  # gives delivery receipts after `sent`
    two_way: bool = False  # can carry an acknowledgement back
    broadcast: bool = False  # an address may reach a group (talkgroup, group pager id)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    message_id: str  # callout's id for this attempt; echoed in acks where the channel allows
    address: str
    parts: tuple[str, ...]  # already fitted to the channel by gateway.policies.fitting
    incident_ref: str
    priority: str
    needs_ack: bool
    purpose: str = "dispatch"

    @property
    def text(self) -> str:
        return "".join(self.parts)


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """The device or network accepted the message. `channel_ref` matches later delivery reports."""

    channel_ref: str | None = None
    delivered: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    channel_ref: str
    delivered: bool
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InboundText:
    """Free text from the field (SMS reply, APRS message, radio text); parsed by the reply grammar."""

    address: str
    text: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RadioAck:
    """A structured acknowledgement of one message (radio ack button, APRS ackNN, DTMF digit)."""

    address: str
    message_id: str | None = None
    channel_ref: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UnitStatusReport:
    address: str
    status: str  # a UnitStatus value
    evidence: dict[str, Any] = field(default_factory=dict)


ChannelEvent = DeliveryReport | InboundText | RadioAck | UnitStatusReport
HealthListener = Callable[["Channel", Health], Awaitable[None] | None]


class Channel(ABC):
    """Base class: keeps health and an inbound queue; subclasses implement the I/O."""

    kind: str = "abstract"

    def __init__(self, *, name: str, capabilities: Capabilities) -> None:
        self.name = name
        self.capabilities = capabilities
        self._health = Health(HealthState.DOWN, "not started")
        self._inbound: asyncio.Queue[ChannelEvent] = asyncio.Queue()
        self._health_listeners: list[Callable[[Channel, Health], None]] = []

    @property
    def health(self) -> Health:
        return self._health

    def on_health_change(self, listener: Callable[[Channel, Health], None]) -> None:
        self._health_listeners.append(listener)

    def set_health(self, state: HealthState, reason: str = "") -> None:
        new = Health(state, reason)
        if new == self._health:
            return
        self._health = new
        for listener in self._health_listeners:
            listener(self, new)

    def emit(self, event: ChannelEvent) -> None:
        """Subclasses call this for every inbound event."""
        self._inbound.put_nowait(event)

    async def events(self) -> AsyncIterator[ChannelEvent]:
        while True:
            yield await self._inbound.get()

    async def event_batches(self, limit: int = 256) -> AsyncIterator[list[ChannelEvent]]:
        """Inbound events as they queue up: each batch is everything waiting, up to `limit`."""
        while True:
            batch = [await self._inbound.get()]
            while len(batch) < limit and not self._inbound.empty():
                batch.append(self._inbound.get_nowait())
            yield batch

    @abstractmethod
    async def send(self, message: OutboundMessage) -> SendReceipt:
        """Hand the message over. Raises ChannelError(temporary=…) on failure."""

    @abstractmethod
    async def __aenter__(self) -> Self: ...

    @abstractmethod
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def fail(self, reason: str, *, temporary: bool, endpoint: str = "", **evidence: Any) -> ChannelError:
        """Build a typed error for this channel (raise it `from` the library error)."""
        return ChannelError(
            reason, channel=self.name, endpoint=endpoint, temporary=temporary, evidence=evidence
        )
