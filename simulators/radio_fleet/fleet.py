"""A fleet of simulated radios behind one (or a few) MQTT connections, like a radio gateway.

Each connection is a "gateway": it subscribes with wildcards to every radio's and talkgroup's
downlink topic, keeps a retained presence for itself (last will "offline") and for each of its
radios, and publishes the radios' uplinks. A radio shows a message once per id, sends a
"delivered" receipt at once, an ack after `ack_delay` when the message asks for one, then walks
en route → on scene → clear, `walk_delay` apart. Faults, fleet-wide or per radio: offline, drop a
share of messages, extra delay, duplicate uplinks, never ack, garbled uplinks.

Sessions are persistent (MQTT 5 Clean Start 0 with a Session Expiry Interval, §3.1.2.4), uplinks
wait in a queue while the broker is away and are published when it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import random
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from simulators.radio_fleet import wire
from simulators.radio_fleet.loops import Loops

log = logging.getLogger(__name__)
WALK = ("en_route", "on_scene", "clear")
ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # one topic level, per the scheme's address rules


@dataclass(frozen=True)
class Faults:
    offline: bool = False  # announced offline; misses everything sent to it
    drop: float = 0.0  # share of messages lost silently (no receipt, no ack)
    delay: float = 0.0  # extra seconds before each uplink
    duplicate: float = 0.0  # share of uplinks published twice
    never_ack: bool = False  # receipts yes, acks (and the status walk) never
    garble: float = 0.0  # share of uplinks replaced by garbage


@dataclass
class Received:
    radio: str
    id: str
    text: str
    incident: str
    priority: str
    needs_ack: bool
    purpose: str
    group: str | None
    at: float  # time.time() when the radio showed it
    ts: float  # the sender's timestamp from the payload


@dataclass
class Radio:
    id: str
    gateway: int  # index of the connection that carries it
    faults: Faults
    online: bool = True
    seen: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    missed: int = 0
    uplink_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))


@dataclass
class FleetStats:
    downlinks: int = 0  # PUBLISH packets received from the broker
    received: int = 0  # messages shown on a radio
    duplicates: int = 0  # a message id a radio had shown already
    dropped: int = 0
    missed: int = 0  # sent to a radio that was offline
    garbage_in: int = 0  # downlinks that were not one
    uplinks: int = 0  # uplinks the broker acknowledged
    garbled_out: int = 0
    connects: int = 0


@dataclass
class _Gateway:
    index: int
    name: str
    client: aiomqtt.Client
    queue: asyncio.Queue[tuple[str, bytes]]
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class RadioFleet:
    def __init__(
        self,
        *,
        broker: str = "mqtt://127.0.0.1:1883",
        count: int = 10,
        radios: Sequence[str] | None = None,
        prefix: str = "callout",
        groups: Mapping[str, Iterable[str]] | None = None,
        connections: int = 1,
        ack_delay: float = 0.2,
        walk_delay: float | None = 1.0,
        faults: Faults | None = None,
        radio_faults: Mapping[str, Faults] | None = None,
        name: str = "radio-fleet",
        username: str | None = None,
        password: str | None = None,
        tls_ca_file: str | None = None,
        workers: int = 32,
        seed: int = 0,
        echo: Callable[[str], None] | None = None,
        session_expiry: int = 3600,
    ) -> None:
        url = urlsplit(broker)
        if url.scheme not in ("mqtt", "mqtts") or not url.hostname:
            raise ValueError(f"broker must be mqtt://host:port or mqtts://host:port, got {broker!r}")
        self.host = url.hostname
        self.port = url.port or (8883 if url.scheme == "mqtts" else 1883)
        self.tls = url.scheme == "mqtts"
        self.scheme = wire.Scheme(prefix)
        self.name = name
        self.connections = max(1, connections)
        self.ack_delay = ack_delay
        self.walk_delay = walk_delay
        self.faults = faults or Faults()
        ids = list(radios) if radios is not None else [f"R{n}" for n in range(1, count + 1)]
        bad = [i for i in [*ids, *(groups or {})] if not ID.fullmatch(i)]
        if bad:
            raise ValueError(f"radio and talkgroup ids are 1-64 of A-Z a-z 0-9 _ - . ; got {bad[:5]}")
        per_radio = dict(radio_faults or {})
        self.radios: dict[str, Radio] = {
            rid: Radio(rid, i % self.connections, per_radio.get(rid, self.faults))
            for i, rid in enumerate(ids)
        }
        for r in self.radios.values():
            r.online = not r.faults.offline
        self.groups: dict[str, list[str]] = {g: list(members) for g, members in (groups or {}).items()}
        unknown = {m for ms in self.groups.values() for m in ms} - self.radios.keys()
        if unknown:
            raise ValueError(f"talkgroup members that are not in the fleet: {sorted(unknown)}")
        self.received: list[Received] = []
        self.stats = FleetStats()
        self._auth = (username, password)
        self._tls_ca = tls_ca_file
        self._workers = workers
        self._rng = random.Random(seed)
        self._echo = echo
        self._session_expiry = session_expiry
        self._heap: list[tuple[float, int, int, str, bytes]] = []
        self._seq = itertools.count()
        self._gateways: list[_Gateway] = []
        self._stack: AsyncExitStack | None = None  # owns the loops while the fleet runs

    # ---- test and CLI surface -----------------------------------------------------------------
    def radio(self, rid: str) -> Radio:
        return self.radios[rid]

    def gateway_name(self, index: int) -> str:
        return f"{self.name}-{index}"

    def set_faults(self, rid: str, faults: Faults) -> None:
        self.radios[rid].faults = faults

    async def set_online(self, rid: str, online: bool) -> None:
        """Switch a radio on or off: its retained presence changes (the broker has it on return)."""
        r = self.radios[rid]
        r.online = online
        gw = self._gateways[r.gateway]
        await gw.connected.wait()
        await gw.client.publish(
            self.scheme.presence(rid), wire.presence(online, gw.name), qos=1, retain=True, timeout=5
        )

    def send_status(self, rid: str, word: str, fix: tuple[float, float, float | None] | None = None) -> None:
        """A status key pressed; `fix`: (lat, lon, fix_ts or None), the radio's GPS at the time."""
        r = self.radios[rid]
        self._uplink(r, wire.status(word, f"s{next(r.uplink_ids)}", fix), 0.0)

    def send_position(self, rid: str, lat: float, lon: float, fix_ts: float | None = None) -> None:
        """The radio's GPS reports where it is (fix_ts: when the fix was taken, POSIX seconds)."""
        r = self.radios[rid]
        self._uplink(r, wire.position(lat, lon, f"p{next(r.uplink_ids)}", fix_ts), 0.0)

    def send_text(self, rid: str, words: str) -> None:
        r = self.radios[rid]
        self._uplink(r, wire.text(words, f"t{next(r.uplink_ids)}"), 0.0)

    def send_ack(self, rid: str, msg_id: str, group: str | None = None) -> None:
        self._uplink(self.radios[rid], wire.ack(msg_id, group), 0.0)

    # ---- lifecycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._wake = asyncio.Event()
        self._gateways = [
            _Gateway(k, self.gateway_name(k), self._client(k), asyncio.Queue())
            for k in range(self.connections)
        ]
        self._stack = stack = AsyncExitStack()
        try:
            loops = await stack.enter_async_context(Loops(f"radio_fleet.{self.name}"))
            for gw in self._gateways:
                loops.start(f"conn{gw.index}", functools.partial(self._connection, gw))
                for w in range(self._workers):
                    loops.start(f"pub{gw.index}.{w}", functools.partial(self._publisher, gw))
            loops.start("timers", self._timers)
            async with asyncio.timeout(15):
                for gw in self._gateways:
                    await gw.ready.wait()
        except TimeoutError:
            await self._shutdown()
            raise ConnectionError(f"radio fleet could not reach {self.host}:{self.port}") from None
        except BaseException:
            await self._shutdown()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            for gw in self._gateways:
                if gw.connected.is_set():  # a clean exit sends no will (MQTT 5 §3.1.2.5): say it here
                    with contextlib.suppress(aiomqtt.MqttError):
                        await gw.client.publish(
                            self.scheme.gateway(gw.name), b"offline", qos=1, retain=True, timeout=2
                        )
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()  # cancels every loop and waits for them

    def _client(self, k: int) -> aiomqtt.Client:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._session_expiry  # MQTT 5 §3.1.2.11.2
        gw = self.gateway_name(k)
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=gw,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=props,
            username=self._auth[0],
            password=self._auth[1],
            tls_params=aiomqtt.TLSParameters(ca_certs=self._tls_ca) if self.tls else None,
            keepalive=10,
            max_inflight_messages=200,
            queue_type=_inbox(self._on_message),
            # Small packets must not wait for Nagle's algorithm (paho leaves it on): RFC 896.
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            # The broker publishes this if the connection dies without a DISCONNECT (§3.1.2.5).
            will=aiomqtt.Will(self.scheme.gateway(gw), b"offline", qos=1, retain=True),
        )
        client.pending_calls_threshold = 1 << 30
        return client

    # ---- connections --------------------------------------------------------------------------
    async def _connection(self, gw: _Gateway) -> None:
        filters = self.scheme.downlink_filters()
        if self.connections > 1:  # share the downlinks between the connections (MQTT 5 §4.8.2)
            filters = tuple(f"$share/{self.name}/{f}" for f in filters)  # type: ignore[assignment]
        delay = 0.1
        while True:
            try:
                async with gw.client:
                    await gw.client.subscribe([(f, SubscribeOptions(qos=1)) for f in filters])
                    await self._announce(gw)
                    self.stats.connects += 1
                    gw.connected.set()
                    gw.ready.set()
                    delay = 0.1
                    async for message in gw.client.messages:  # ends with the connection
                        self._on_message(message)
            except aiomqtt.MqttError as exc:
                log.info("radio fleet %s: connection lost: %s", gw.name, exc)
            finally:
                gw.connected.clear()
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

    async def _announce(self, gw: _Gateway) -> None:
        """Retained presence: the gateway's, then each of its radios'."""
        client = gw.client
        await client.publish(self.scheme.gateway(gw.name), b"online", qos=1, retain=True)
        mine = [r for r in self.radios.values() if r.gateway == gw.index]
        for start in range(0, len(mine), 200):
            await asyncio.gather(
                *(
                    client.publish(
                        self.scheme.presence(r.id), wire.presence(r.online, gw.name), qos=1, retain=True
                    )
                    for r in mine[start : start + 200]
                )
            )

    async def _publisher(self, gw: _Gateway) -> None:
        """Publish uplinks; one that fails waits for the connection and is tried again."""
        while True:
            topic, payload = await gw.queue.get()
            while True:
                await gw.connected.wait()
                try:
                    await gw.client.publish(topic, payload, qos=1, timeout=5)
                except aiomqtt.MqttError:
                    await asyncio.sleep(0.05)
                    continue
                self.stats.uplinks += 1
                break

    async def _timers(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            while self._heap and self._heap[0][0] <= now:
                _, _, k, topic, payload = heapq.heappop(self._heap)
                self._gateways[k].queue.put_nowait((topic, payload))
            self._wake.clear()
            timeout = self._heap[0][0] - now if self._heap else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    # ---- radio behaviour ----------------------------------------------------------------------
    def _on_message(self, message: aiomqtt.Message) -> None:
        payload = message.payload if isinstance(message.payload, bytes) else b""
        try:
            self._on_downlink(message.topic.value, payload)
        except Exception:  # a simulator bug must not stop the connection
            log.exception("radio fleet: could not handle a message on %s", message.topic.value)

    def _on_downlink(self, topic: str, payload: bytes) -> None:
        self.stats.downlinks += 1
        where = self.scheme.parse_down(topic)
        msg = wire.read_downlink(payload) if where else None
        if where is None or msg is None:
            self.stats.garbage_in += 1
            log.warning("radio fleet: not a downlink on %s: %r", topic, payload[:80])
            return
        section, ident = where
        if section == "radio":
            targets = [self.radios[ident]] if ident in self.radios else []
            group = None
        else:
            targets = [self.radios[m] for m in self.groups.get(ident, [])]
            group = ident
        for radio in targets:
            self._show(radio, msg, group)

    def _show(self, r: Radio, msg: wire.Downlink, group: str | None) -> None:
        f = r.faults
        if msg.id in r.seen:
            self.stats.duplicates += 1
            return
        if not r.online:
            r.missed += 1
            self.stats.missed += 1
            return
        r.seen.add(msg.id)
        if f.drop and self._rng.random() < f.drop:
            self.stats.dropped += 1
            return
        rec = Received(
            r.id,
            msg.id,
            msg.text,
            msg.incident,
            msg.priority,
            msg.ack,
            msg.purpose,
            group,
            time.time(),
            msg.ts,
        )
        r.received.append(rec)
        self.received.append(rec)
        self.stats.received += 1
        if self._echo is not None:
            via = f" (talkgroup {group})" if group else ""
            self._echo(f"{r.id}{via} <- [{msg.id}] {msg.priority} {msg.text}")
        self._uplink(r, wire.delivered(msg.id, group), f.delay)
        if not msg.ack or f.never_ack:
            return
        at = f.delay + self.ack_delay
        self._uplink(r, wire.ack(msg.id, group), at)
        if self.walk_delay is not None and msg.purpose == "dispatch":
            for step, word in enumerate(WALK, start=1):
                self._uplink(r, wire.status(word, f"s{next(r.uplink_ids)}"), at + step * self.walk_delay)

    def _uplink(self, r: Radio, payload: bytes, after: float) -> None:
        f = r.faults
        if f.garble and self._rng.random() < f.garble:
            payload = self._rng.choice(wire.GARBAGE)
            self.stats.garbled_out += 1
        copies = 2 if f.duplicate and self._rng.random() < f.duplicate else 1
        topic = self.scheme.uplink(r.id)
        for _ in range(copies):
            if after <= 0:
                self._gateways[r.gateway].queue.put_nowait((topic, payload))
                continue
            due = asyncio.get_running_loop().time() + after
            heapq.heappush(self._heap, (due, next(self._seq), r.gateway, topic, payload))
            if self._heap[0][0] == due:
                self._wake.set()


def _inbox(handler: Callable[[aiomqtt.Message], None]) -> type[asyncio.Queue[aiomqtt.Message]]:
    """aiomqtt `queue_type` that hands each message to `handler` at once (no task per message)."""

    class Inbox(asyncio.Queue[aiomqtt.Message]):
        def put_nowait(self, item: aiomqtt.Message) -> None:
            handler(item)

    return Inbox
