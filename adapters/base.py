"""The Channel contract every radio, pager, SMS and voice adapter implements (docs/architecture.md),
and the lifecycle skeleton that channels and CTI sources share.

A channel is an async context manager. `send` hands one message to the device or network and
returns a receipt, or raises `ChannelError` saying whether the failure is temporary (retry on the
same channel) or permanent (move to the next endpoint). Inbound traffic (delivery reports, replies,
acks, unit status, positions) arrives through the async iterator `events()` (or `event_batches()`), and
health changes through `health_changes()`. A consumer that stores events calls
`hold_until_handled()` once and `handled(events)` after each commit, so a channel confirms an
event to its peer (an MQTT PUBACK) only once it is stored.

The lifecycle skeleton (`Component`) owns an `AsyncExitStack` and a `TaskGroup`: subclasses
implement `_open()` and `_close()` and run their background loops with `start_task(name, factory)`.
A child that crashes marks the component down with the reason and is restarted with back-off; it
never cancels the task that entered the component (docs/style.md, "the TaskGroup pitfall").
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

from adapters.backoff import reconnect_delays
from adapters.errors import ChannelError

__all__ = [
    "AttemptEvidence",
    "Capabilities",
    "Channel",
    "ChannelError",
    "ChannelEvent",
    "Component",
    "DeliveryReport",
    "Health",
    "HealthFeed",
    "HealthState",
    "InboundText",
    "OutboundMessage",
    "PositionReport",
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
class AttemptEvidence:
    """What a channel learns about a message after it was `sent`, for the attempt its
    `channel_ref` names: a voice call's talk time, digits and how it ended. Merged into the
    attempt's evidence and audited (`attempt.evidence`); it changes no state."""

    channel_ref: str
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InboundText:
    """Free text from the field (SMS reply, APRS message, radio text); parsed by the reply grammar."""

    address: str
    text: str
    evidence: dict[str, Any] = field(default_factory=dict)
    # The message this text answers, where the channel knows it (an email reply's token): an
    # ACK then acknowledges that message rather than the resource's latest dispatch.
    message_id: str | None = None


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


@dataclass(frozen=True, slots=True)
class PositionReport:
    """A unit's position fix (an APRS position report, a radio's GPS, the field app): WGS 84
    degrees, and when the fix was taken (epoch seconds) where the report says; None: on receipt."""

    address: str
    lat: float
    lon: float
    observed_at: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


ChannelEvent = DeliveryReport | AttemptEvidence | InboundText | RadioAck | UnitStatusReport | PositionReport
TaskFactory = Callable[[], Coroutine[Any, Any, None]]

log = logging.getLogger(__name__)


class HealthFeed:
    """One subscriber's view of a component's health changes, in order, from the moment it was
    made (so a change between subscribing and the first `await` is not lost)."""

    def __init__(self, owner: Component) -> None:
        self._owner = owner
        self._queue: asyncio.Queue[Health] = asyncio.Queue()

    def put(self, health: Health) -> None:
        self._queue.put_nowait(health)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Health:
        return await self._queue.get()

    def close(self) -> None:
        self._owner._unsubscribe(self)


class Component:
    """The lifecycle skeleton of every channel and CTI source.

    `async with component:` enters an `AsyncExitStack` holding one `TaskGroup`, then calls
    `_open()`; leaving calls `_close()`, cancels the children and waits for them. Subclasses push
    their own clean-ups on `self.stack` and start loops with `start_task`.
    """

    kind: str = "abstract"
    restart_first: float = 0.5  # seconds before the first restart of a crashed child
    restart_cap: float = 30.0

    def __init__(self, *, name: str) -> None:
        self.name = name
        self._health = Health(HealthState.DOWN, "not started")
        self._feeds: list[HealthFeed] = []
        self._stack: AsyncExitStack | None = None
        self._group: asyncio.TaskGroup | None = None
        self._children: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    # ---- health ----------------------------------------------------------------------------
    @property
    def health(self) -> Health:
        return self._health

    def set_health(self, state: HealthState, reason: str = "") -> None:
        new = Health(state, reason)
        if new == self._health:
            return
        self._health = new
        for feed in list(self._feeds):
            feed.put(new)

    def health_changes(self) -> HealthFeed:
        """An async iterator of every later health change; `close()` it when done."""
        feed = HealthFeed(self)
        self._feeds.append(feed)
        return feed

    def _unsubscribe(self, feed: HealthFeed) -> None:
        if feed in self._feeds:
            self._feeds.remove(feed)

    # ---- lifecycle -------------------------------------------------------------------------
    @property
    def closing(self) -> bool:
        """True from the start of `__aexit__`: loops should wind down, not report a crash."""
        return self._stopping

    @property
    def stack(self) -> AsyncExitStack:
        if self._stack is None:
            raise RuntimeError(f"{self.kind} {self.name} is not open")
        return self._stack

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError(f"{self.kind} {self.name} is already open")
        stack = AsyncExitStack()
        await stack.__aenter__()
        self._stopping = False
        try:
            self._group = await stack.enter_async_context(asyncio.TaskGroup())
            stack.callback(self._cancel_children)  # runs before the group waits for them
            self._stack = stack
            await self._open()
        except BaseException:
            self._stopping = True
            self._stack = self._group = None
            await stack.__aexit__(None, None, None)  # clean-ups run; the error is the caller's
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        self._stopping = True
        try:
            await self._close()
        finally:
            if stack is not None:
                await stack.__aexit__(None, None, None)
            self._group = None
            self._children.clear()

    async def _open(self) -> None:
        """Connect, handshake, start loops. Raise to refuse to start (the caller sees the error)."""

    async def _close(self) -> None:
        """Say goodbye to the peer while the loops still run; the skeleton then cancels them."""

    # ---- supervised children -------------------------------------------------------------
    def start_task(self, name: str, factory: TaskFactory, *, restart: bool = True) -> asyncio.Task[None]:
        """Run `factory()` as a named child. If it raises, the component is marked down with the
        reason and, with `restart`, the factory is called again after a capped back-off."""
        if self._group is None:
            raise RuntimeError(f"{self.kind} {self.name}: start_task before the component is open")
        full = f"{self.kind}.{self.name}.{name}"
        old = self._children.get(name)
        if old is not None and not old.done():
            old.cancel()
        task = self._group.create_task(self._run_child(full, factory, restart), name=full)
        self._children[name] = task
        return task

    def stop_task(self, name: str) -> None:
        task = self._children.pop(name, None)
        if task is not None:
            task.cancel()

    async def _run_child(self, full: str, factory: TaskFactory, restart: bool) -> None:
        loop = asyncio.get_running_loop()
        delays = self._restart_delays()
        while True:
            started = loop.time()
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a crashed child must never cancel the gateway
                if self._stopping:
                    return
                log.exception("%s crashed", full)
                self.set_health(HealthState.DOWN, f"{full} crashed: {type(exc).__name__}: {exc}")
                if not restart:
                    return
            if loop.time() - started > self.restart_cap:  # it ran well for a while: start over
                delays = self._restart_delays()
            await asyncio.sleep(next(delays))

    def _restart_delays(self) -> Iterator[float]:
        return reconnect_delays(
            first=self.restart_first, cap=self.restart_cap, jitter=0.2, rng=random.Random()
        )

    def _cancel_children(self) -> None:
        for task in self._children.values():
            task.cancel()


class Channel(Component, ABC):
    """Base class of every channel: health, an inbound queue and the lifecycle skeleton;
    subclasses implement `send` and the I/O."""

    def __init__(self, *, name: str, capabilities: Capabilities) -> None:
        super().__init__(name=name)
        self.capabilities = capabilities
        self._inbound: asyncio.Queue[ChannelEvent] = asyncio.Queue()
        self._hold = False
        self._on_handled: dict[int, tuple[ChannelEvent, Callable[[], None]]] = {}

    def emit(self, event: ChannelEvent, *, on_handled: Callable[[], None] | None = None) -> None:
        """Subclasses call this for every inbound event. `on_handled` is what confirms the event
        to the peer (an MQTT PUBACK): it runs when the core calls `handled` for the event after
        storing it, or at once when no consumer has asked to `hold_until_handled`."""
        self._inbound.put_nowait(event)
        if on_handled is None:
            return
        if self._hold:
            self._on_handled[id(event)] = (event, on_handled)
        else:
            on_handled()

    def hold_until_handled(self) -> None:
        """The consumer promises to call `handled` for every event it has stored: peer
        confirmations wait until then, so a crash in between makes the peer send the event again."""
        self._hold = True

    @property
    def holding(self) -> bool:
        """True once a consumer asked to `hold_until_handled`."""
        return self._hold

    def handled(self, events: Iterable[ChannelEvent]) -> None:
        """The core stored these events (its transaction committed): confirm them to the peer.
        An event the core could not store is left out and comes again (after a reconnect)."""
        for event in events:
            entry = self._on_handled.pop(id(event), None)
            if entry is not None:
                entry[1]()

    def forget_unhandled(self) -> None:
        """The link the unconfirmed events came on is gone; the peer will send them again."""
        self._on_handled.clear()

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

    def fail(self, reason: str, *, temporary: bool, endpoint: str = "", **evidence: Any) -> ChannelError:
        """Build a typed error for this channel (raise it `from` the library error)."""
        return ChannelError(
            reason, channel=self.name, endpoint=endpoint, temporary=temporary, evidence=evidence
        )
