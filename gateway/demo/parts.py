"""What a simulated device contributes to the demo (`Part`), why one cannot run here
(`LeftOut`), and the crews that answer dispatches in text through their devices (`Crew`)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.settings import ChannelConfig, CtiSourceConfig, EndpointConfig

log = logging.getLogger(__name__)

Job = Callable[[], Coroutine[Any, Any, None]]
# How a crew answers a dispatch on a text device: (reply, seconds after the previous step). The
# reply quotes the incident's serial, as the dispatch asks ("Reply ACK 42"); CLEAR, which may come
# after the incident is closed, names it in full (a bare serial only finds open incidents).
CREW_WALK = (("ACK {serial}", 1.0), ("ON SCENE {serial}", 2.5), ("CLEAR {ref}", 2.0))
# A dispatch names its incident and priority first ("INC-2026-000042 P2 FIRE: …"); stand-downs
# and escalations are not answered. Searched, not matched: a split message starts "1/2 ".
DISPATCH = re.compile(r"\b(INC-\d{4}-0*(\d+)) P[1-4] (?!ESCALATION)")


class LeftOut(Exception):
    """A device that cannot run here: what it is, why, and the channels that go with it."""

    def __init__(self, device: str, why: str, channels: Iterable[str] = ()) -> None:
        super().__init__(f"{device}: {why}")
        self.device, self.why, self.channels = device, why, tuple(channels)


@dataclass
class Part:
    """What one simulated device adds to the demo."""

    label: str  # for the status line
    options: dict[str, dict[str, Any]] = field(default_factory=dict)  # channel -> options it sets
    channels: list[ChannelConfig] = field(default_factory=list)  # channels it adds
    endpoints: dict[str, list[EndpointConfig]] = field(default_factory=dict)  # resource id -> added
    sources: list[CtiSourceConfig] = field(default_factory=list)  # CTI sources it adds
    jobs: dict[str, Job] = field(default_factory=dict)  # run with the daemon (crews)
    on_ready: Callable[[str], None] | None = None  # given callout's base URL once the API is up


@dataclass
class Crew:
    """The people behind simulated handsets and radios that answer in text: every dispatch that
    reaches an address is answered through the same device (CREW_WALK), naming its incident so
    that a reply never lands on another incident of the same unit."""

    name: str
    inbox: Callable[[], Iterable[tuple[str, str]]]  # (address, text) of everything received
    reply: Callable[[str, str], Awaitable[None]]  # (address, text) sent back from that address
    answered: set[tuple[str, str]] = field(default_factory=set)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            while True:
                for address, text in list(self.inbox()):
                    found = DISPATCH.search(text)
                    if found and (address, found[1]) not in self.answered:
                        self.answered.add((address, found[1]))
                        walk = self._walk(address, found[1], found[2])
                        tg.create_task(walk, name=f"{self.name}.{address}")
                await asyncio.sleep(0.2)

    async def _walk(self, address: str, ref: str, serial: str) -> None:
        for words, after in CREW_WALK:
            await asyncio.sleep(after)
            text = words.format(ref=ref, serial=serial)
            try:
                await self.reply(address, text)
            except Exception:  # a crew that cannot answer must not stop the demo
                log.warning("%s: could not send %r from %s", self.name, text, address, exc_info=True)
