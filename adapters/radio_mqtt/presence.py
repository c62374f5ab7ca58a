"""What the MQTT radio channel knows about who is reachable: the retained presence of radios and
radio gateways (docs/protocols/mqtt-radio.md, "Presence"), and what a reconnect made stale.

A radio is offline when its own retained status says so, or when the gateway it names is offline.
After a reconnect nothing known before counts any more (a broker restarted without persistence
has forgotten the retained statuses, and radios may have gone while the link was down): a radio
known before is *stale* until its retained presence is read again on the new connection (MQTT 5
§3.3.1.3, retained messages are sent after the SUBSCRIBE, §3.8.3.1), and so is a gateway. A radio
is reachable only through its gateway, so it stays stale while the gateway it names is: the
broker sends the radios' retained statuses before the gateways' (one SUBSCRIBE, the radio filter
first), and in between a radio behind an offline gateway would otherwise read as online. A radio
never heard of is unknown and counts as online, so fleets without presence keep working.
"""

from __future__ import annotations

import asyncio
import contextlib

from adapters.radio_mqtt import codec


class PresenceBook:
    def __init__(self) -> None:
        self.radios: dict[str, codec.Presence] = {}
        self.gateways: dict[str, bool] = {}
        self.stale: set[str] = set()  # radios known before the reconnect, not read again yet
        self.stale_gateways: set[str] = set()  # the same for gateways
        self._news: asyncio.Event | None = None  # set (and replaced) on every presence message

    def open(self) -> None:
        """Loop-bound state, made in the channel's `_open` (docs/style.md practice 3)."""
        self._news = asyncio.Event()

    def reconnected(self) -> None:
        self.stale |= set(self.radios)
        self.stale_gateways |= set(self.gateways)
        self.radios.clear()
        self.gateways.clear()

    def radio_status(self, radio: str, presence: codec.Presence) -> None:
        self.stale.discard(radio)
        if presence.online is None:
            self.radios.pop(radio, None)  # a zero-byte retained message clears it (§3.3.1.3)
        else:
            self.radios[radio] = presence
        self._tell()

    def gateway_status(self, gateway: str, presence: codec.Presence) -> None:
        self.stale_gateways.discard(gateway)
        if presence.online is None:
            self.gateways.pop(gateway, None)
        else:
            self.gateways[gateway] = presence.online
        self._tell()

    def _tell(self) -> None:
        news, self._news = self._news, asyncio.Event()
        if news is not None:
            news.set()

    def is_stale(self, radio: str) -> bool:
        """True while the radio's presence, or that of the gateway it names, is not read again
        since the reconnect."""
        if radio in self.stale:
            return True
        p = self.radios.get(radio)
        return p is not None and p.gateway is not None and p.gateway in self.stale_gateways

    async def wait_fresh(self, radio: str, within: float) -> bool:
        """Wait up to `within` seconds for a stale radio's presence (and its gateway's); True
        once it is fresh."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self.is_stale(radio) and self._news is not None:
            left = deadline - loop.time()
            if left <= 0:
                break
            news = self._news
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await news.wait()
        return not self.is_stale(radio)

    def online(self, radio: str) -> bool | None:
        """True online, False offline, None unknown (stale or never heard of)."""
        p = self.radios.get(radio)
        if p is None or p.online is None or self.is_stale(radio):
            return None
        if not p.online:
            return False
        return p.gateway is None or self.gateways.get(p.gateway) is not False

    def offline_reason(self, radio: str) -> str:
        if self.online(radio) is not False:
            return ""
        p = self.radios[radio]
        if p.online is False:
            return f"radio {radio} is offline"
        return f"radio {radio} is offline: its gateway {p.gateway} is offline"
