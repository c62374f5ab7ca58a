"""A channel whose behaviour each test scripts per address. Tests only, never shipped."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from adapters.base import (
    Capabilities,
    Channel,
    DeliveryReport,
    HealthState,
    InboundText,
    OutboundMessage,
    RadioAck,
    SendReceipt,
)

OK, DELIVERED, TEMP, PERM, HANG = "ok", "delivered", "temp", "perm", "hang"
EARLY = "early"  # the network's receipt overtakes the send's own answer


@dataclass
class Sent:
    channel: str
    address: str
    text: str
    message_id: str
    purpose: str
    incident_ref: str


class ScriptedChannel(Channel):
    kind = "scripted"

    def __init__(self, name: str, *, caps: Capabilities | None = None, default: str = OK) -> None:
        super().__init__(name=name, capabilities=caps or Capabilities(max_length=160, two_way=True))
        self.scripts: dict[str, deque[str]] = defaultdict(deque)
        self.default = default
        self.sent: list[Sent] = []
        self.tries: list[tuple[str, str]] = []  # (address, outcome) for every call of send
        self.hang = asyncio.Event()
        self._refs = 0

    def script(self, address: str, *outcomes: str) -> None:
        self.scripts[address].extend(outcomes)

    async def __aenter__(self) -> Self:
        self.set_health(HealthState.UP, "scripted")
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.set_health(HealthState.DOWN, "stopped")

    async def send(self, message: OutboundMessage) -> SendReceipt:
        queue = self.scripts[message.address]
        outcome = queue.popleft() if queue else self.default
        self.tries.append((message.address, outcome))
        if outcome == HANG:
            await self.hang.wait()
            outcome = OK
        if outcome == TEMP:
            raise self.fail("scripted temporary failure", temporary=True, endpoint=message.address)
        if outcome == PERM:
            raise self.fail("scripted permanent failure", temporary=False, endpoint=message.address)
        self._refs += 1
        ref = f"{self.name}-{self._refs}"
        if outcome == EARLY:
            self.emit(DeliveryReport(channel_ref=ref, delivered=True))
            await asyncio.sleep(0.05)
        self.sent.append(
            Sent(
                self.name,
                message.address,
                message.text,
                message.message_id,
                message.purpose,
                message.incident_ref,
            )
        )
        return SendReceipt(channel_ref=ref, delivered=outcome == DELIVERED, evidence={"scripted_ref": ref})

    def messages(self, ref: str, purpose: str = "dispatch") -> list[Sent]:
        return [m for m in self.sent if m.incident_ref == ref and m.purpose == purpose]

    # field side
    def reply(self, address: str, text: str) -> None:
        self.emit(InboundText(address=address, text=text))

    def ack(self, address: str, message_id: str) -> None:
        self.emit(RadioAck(address=address, message_id=message_id))

    def report(self, channel_ref: str, delivered: bool = True) -> None:
        self.emit(DeliveryReport(channel_ref=channel_ref, delivered=delivered))
