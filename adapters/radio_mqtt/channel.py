"""I/O of the MQTT radio channel: one aiomqtt client with a persistent MQTT 5 session.

One supervised child (`mqtt_radio.<name>.connection`, see `adapters.base.Component`) connects,
subscribes, feeds every incoming PUBLISH to the codec and reconnects with back-off when the broker
goes away; the channel's health follows the connection. `send` publishes at QoS 1 and returns once
the broker has the message (PUBACK, MQTT 5 §3.4).

Delivery truth (docs/protocols/mqtt-radio.md, "Presence and acknowledgements"): a radio reported
offline is not sent to, and after a reconnect a radio whose presence was known is not sent to
until its retained presence has been read again on the new connection (`presence_wait` bounds
the wait; then a temporary failure lets the engine retry or move on). Uplinks are acknowledged
to the broker (PUBACK) only once the core has stored them (`Channel.handled`), when the consumer
asked for it with `Channel.hold_until_handled`; until then the broker keeps them in the session
and sends them again after a reconnect (MQTT 5 §4.4).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from adapters.backoff import reconnect_delays
from adapters.base import (
    Capabilities,
    Channel,
    DeliveryReport,
    HealthState,
    InboundText,
    OutboundMessage,
    PositionReport,
    RadioAck,
    SendReceipt,
    UnitStatusReport,
)
from adapters.radio_mqtt import codec
from adapters.radio_mqtt.codec import TopicKind, UplinkType
from adapters.radio_mqtt.options import Options
from adapters.radio_mqtt.presence import PresenceBook

log = logging.getLogger(__name__)
QOS = 1  # at least once (MQTT 5 §4.3.2); every handler is idempotent by id


@dataclass
class Stats:
    """Counters for tests, benchmarks and the log."""

    connects: int = 0
    published: int = 0
    uplinks: int = 0
    duplicates: int = 0
    garbled: int = 0
    acked: int = 0  # uplink events confirmed to the broker (once the core stored them)
    held_back: int = 0  # sends refused because presence was not yet re-read after a reconnect


class RadioMqttChannel(Channel):
    kind = "mqtt_radio"

    def __init__(
        self,
        *,
        name: str,
        options: Options,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            name=name,
            capabilities=Capabilities(
                max_length=options.max_length,
                max_parts=1,
                confirms_delivery=options.receipts,
                two_way=True,
                broadcast=True,
            ),
        )
        self.options = options
        self.topics = codec.Topics(options.prefix)
        self.stats = Stats()
        self._clock = clock
        self._rng = rng or random.Random()
        self._client: aiomqtt.Client | None = None
        self._connected = False
        self._lost: asyncio.Future[None] | None = None  # resolved when this connection ends
        self._first_try: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._sent: OrderedDict[str, str] = OrderedDict()  # message id -> address it went to
        self.known = PresenceBook()
        self._link = 0  # counts connections; a PUBACK is valid only on the one its PUBLISH came on
        self._publish_props: Properties | None = None
        if options.message_expiry:
            self._publish_props = _properties(PacketTypes.PUBLISH)
            self._publish_props.MessageExpiryInterval = options.message_expiry  # §3.3.2.3.3

    # ---- lifecycle ----------------------------------------------------------------------------
    async def _open(self) -> None:
        self._client = self._make_client()
        self.known.open()
        self._first_try = first_try = asyncio.Event()
        self._task = self.start_task("connection", self._run)
        # Wait for the first connection attempt: a broker that is down leaves the channel DOWN
        # (the engine falls back around it) while the task keeps trying.
        try:
            async with asyncio.timeout(self.options.connect_timeout + 1):
                await first_try.wait()
        except TimeoutError:
            log.warning("channel %s: no answer from %s yet", self.name, self.options.broker)
        except BaseException:
            await self._stop()
            raise

    async def _close(self) -> None:
        await self._stop()

    async def _stop(self) -> None:
        """End the connection task (aiomqtt disconnects on the way out), then report stopped."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        self._mark_lost()
        self.set_health(HealthState.DOWN, "stopped")

    def _make_client(self) -> aiomqtt.Client:
        o = self.options
        # Clean Start 0 and a Session Expiry Interval > 0 on every CONNECT: the broker keeps our
        # subscriptions and queues uplinks while we are away (MQTT 5 §3.1.2.4, §3.1.2.11.2;
        # aiomqtt would otherwise reset clean start on every connect; docs/protocols/mqtt-radio.md).
        props = _properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = o.session_expiry
        tls = (
            aiomqtt.TLSParameters(ca_certs=o.ca_file, certfile=o.cert_file, keyfile=o.key_file)
            if o.tls
            else None
        )
        client = aiomqtt.Client(
            o.host,
            o.port,
            identifier=o.identifier(self.name),
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=props,
            keepalive=o.keepalive,
            timeout=o.connect_timeout,
            username=o.username,
            password=o.password.get_secret_value() if o.password else None,
            tls_params=tls,
            tls_insecure=o.tls_insecure if o.tls else None,
            max_inflight_messages=o.max_inflight,
            queue_type=_inbox(self._on_message),
            # Small packets must not wait for Nagle's algorithm (paho leaves it on): RFC 896.
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        client.pending_calls_threshold = 1 << 30  # concurrent sends are normal here, not a warning
        # Manual PUBACKs for uplinks (MQTT 5 §4.3.2): aiomqtt 2.5 does not expose paho's
        # manual_ack, so it is set on the paho client it wraps (`_client`, aiomqtt's own name).
        paho = getattr(client, "_client", None)
        if paho is None or not hasattr(paho, "manual_ack_set"):
            raise RuntimeError("aiomqtt without a paho client offering manual_ack: pin aiomqtt 2.5")
        paho.manual_ack_set(True)
        return client

    def _delays(self) -> Iterator[float]:
        o = self.options
        return reconnect_delays(
            first=o.reconnect_min, cap=max(o.reconnect_min, o.reconnect_max), jitter=0.2, rng=self._rng
        )

    # ---- the connection task ------------------------------------------------------------------
    async def _run(self) -> None:
        """Connect, subscribe, read; on any loss report DOWN and reconnect after a back-off.

        The same Client object is reused, so paho re-sends a QoS 1 publish that was in flight
        when the connection dropped, with its packet id and DUP set (MQTT 5 §4.4)."""
        assert self._client is not None and self._first_try is not None
        client, first_try = self._client, self._first_try
        delays = self._delays()
        where = f"{self.options.host}:{self.options.port}"
        while True:
            connected = False
            try:
                async with client:
                    connected = True
                    self._new_link()
                    await self._subscribe(client)
                    self._on_connected(where)
                    first_try.set()
                    delays = self._delays()
                    # Messages go straight to `_on_message` (see `_inbox`), so this only ever
                    # ends with MqttError when the connection is lost.
                    async for message in client.messages:
                        self._on_message(message)
            except aiomqtt.MqttError as exc:
                what = "lost the broker" if connected else "cannot connect to the broker"
                self._on_down(f"{what} {where}: {exc}")
            except Exception as exc:  # a bug here must not end the channel: report, retry
                log.exception("channel %s: connection task failed", self.name)
                self._on_down(f"internal error: {exc!r}")
            first_try.set()
            await asyncio.sleep(next(delays))

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        """Subscribe on every connect, even with a session present: that also makes the broker
        send the retained presence again (Retain Handling 0, MQTT 5 §3.3.1.3, §3.8.3.1)."""
        uplinks, presence, gateways = self.topics.filters()
        if self.options.shared_group:
            uplinks = f"$share/{self.options.shared_group}/{uplinks}"  # MQTT 5 §4.8.2
        granted = await client.subscribe([(f, QOS) for f in (uplinks, presence, gateways)])
        refused = [str(rc) for rc in granted if getattr(rc, "is_failure", False)]
        if refused:
            raise aiomqtt.MqttError(f"subscription refused: {', '.join(refused)}")  # SUBACK §3.9.3

    def _new_link(self) -> None:
        """Before the SUBSCRIBE (retained messages may follow the SUBACK in the same read):
        what was known about presence belongs to the old connection, since a broker restarted
        without persistence has forgotten it and radios may have gone while we were away. Each
        radio's retained presence comes again after the SUBSCRIBE (MQTT 5 §3.3.1.3)."""
        self._link += 1
        self.known.reconnected()
        self.forget_unhandled()  # PUBACKs of the old connection's packet ids would be wrong (§4.4)

    def _on_connected(self, where: str) -> None:
        self._lost = asyncio.get_running_loop().create_future()
        self._connected = True
        self.stats.connects += 1
        self.set_health(HealthState.UP, f"connected to {where}")
        log.info("channel %s: connected to %s (connection %d)", self.name, where, self.stats.connects)

    def _on_down(self, reason: str) -> None:
        self._mark_lost()
        if self._health.state is not HealthState.DOWN or self._health.reason != reason:
            log.warning("channel %s: %s", self.name, reason)
        self.set_health(HealthState.DOWN, reason)

    def _mark_lost(self) -> None:
        self._connected = False
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    # ---- outbound -----------------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendReceipt:
        endpoint = message.address
        try:
            target = codec.parse_address(message.address)
        except codec.BadAddress as exc:
            raise self.fail(exc.reason, temporary=False, endpoint=endpoint) from exc
        client, lost = self._client, self._lost
        if not self._connected or client is None or lost is None or lost.done():
            raise self.fail(f"not connected: {self.health.reason}", temporary=True, endpoint=endpoint)
        if not target.group:
            if self.known.is_stale(target.id) and not await self.known.wait_fresh(
                target.id, self.options.presence_wait
            ):
                self.stats.held_back += 1
                raise self.fail(
                    f"presence of radio {target.id} (or of its gateway) not yet read again"
                    " since the reconnect",
                    temporary=True,
                    endpoint=endpoint,
                    presence="unknown",
                )
            offline = self.known.offline_reason(target.id)
            if offline:
                raise self.fail(offline, temporary=True, endpoint=endpoint, presence="offline")
        topic = self.topics.down(target)
        payload = codec.encode_downlink(message, ts=self._clock())
        self._remember(self._sent, message.message_id, target.address)
        publish = asyncio.ensure_future(
            client.publish(
                topic,
                payload,
                qos=QOS,
                properties=self._publish_props,
                timeout=self.options.publish_timeout,
            )
        )
        try:
            done, _ = await asyncio.wait((publish, lost), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # the caller gave up (engine send timeout, shutdown)
            publish.cancel()
            raise
        if publish not in done:
            publish.cancel()
            # paho keeps the message and re-sends it after the reconnect (§4.4); a retry with the
            # same id is harmless because radios act on an id once.
            raise self.fail(
                "connection lost before the broker's PUBACK; the message may still arrive",
                temporary=True,
                endpoint=endpoint,
                topic=topic,
            )
        try:
            publish.result()
        except aiomqtt.MqttError as exc:
            raise self.fail(f"publish failed: {exc}", temporary=True, endpoint=endpoint, topic=topic) from exc
        self.stats.published += 1
        return SendReceipt(channel_ref=message.message_id, evidence={"topic": topic, "qos": QOS})

    def presence(self, radio: str) -> bool | None:
        """True online, False offline, None unknown (see `adapters.radio_mqtt.presence`)."""
        return self.known.online(radio)

    # ---- inbound ------------------------------------------------------------------------------
    def _on_message(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        payload = message.payload
        ack = self._acker(message)
        try:
            if self._handle(topic, payload if isinstance(payload, bytes) else str(payload).encode(), ack):
                return  # the core acknowledges it through `handled`
        except codec.GarbledUplink as exc:
            self.stats.garbled += 1
            if self.stats.garbled <= 10 or self.stats.garbled % 1000 == 0:
                log.warning(
                    "channel %s: garbled message %d on %s: %s",
                    self.name,
                    self.stats.garbled,
                    topic,
                    exc.reason,
                )
        except Exception:  # never let one message stop the connection task
            self.stats.garbled += 1
            log.exception("channel %s: could not handle a message on %s", self.name, topic)
        ack()  # presence, duplicates and garbage: nothing for the core to store

    def _acker(self, message: aiomqtt.Message) -> Callable[[], None]:
        """The PUBACK for one incoming QoS 1 PUBLISH, valid only on the connection it came on."""
        connection, mid, qos = self._link, message.mid, message.qos

        def ack() -> None:
            client = self._client
            if qos == 0 or client is None or connection != self._link:
                return  # QoS 0 needs none; a new connection gets the PUBLISH again (§4.4)
            client._client.ack(mid, qos)  # see _make_client

        return ack

    def _handle(self, topic: str, payload: bytes, ack: Callable[[], None]) -> bool:
        """Apply one PUBLISH; True when it became an event that the core acknowledges."""
        ref = self.topics.parse(topic)
        if ref.kind is TopicKind.PRESENCE:
            self.known.radio_status(ref.id, codec.decode_presence(payload, topic=topic))
            return False
        if ref.kind is TopicKind.GATEWAY:
            self.known.gateway_status(ref.id, codec.decode_presence(payload, topic=topic))
            return False
        uplink = codec.decode_uplink(payload, topic=topic)
        self.stats.uplinks += 1
        key = uplink.dedupe_key(ref.id)
        if key is not None and key in self._seen:
            self.stats.duplicates += 1
            return False

        def stored() -> None:
            # Remembered only once stored: a redelivery of an uplink the core never stored
            # must not be dropped as a duplicate.
            if key is not None:
                self._remember(self._seen, key, None)
            self.stats.acked += 1
            ack()

        if uplink.fix is not None and uplink.type is UplinkType.STATUS:
            # A status with a fix: the position first, then the status, which carries the PUBACK
            # (a fix lost in between is replaced by the radio's next one).
            self.emit(self._position(ref.id, uplink.fix, topic))
        self.emit(self._event(ref.id, uplink, topic), on_handled=stored)
        return True

    @staticmethod
    def _position(radio: str, fix: codec.Fix, topic: str) -> PositionReport:
        return PositionReport(radio, fix.lat, fix.lon, fix.ts, {"topic": topic})

    def _event(
        self, radio: str, uplink: codec.Uplink, topic: str
    ) -> DeliveryReport | RadioAck | UnitStatusReport | InboundText | PositionReport:
        evidence: dict[str, Any] = {"topic": topic}
        if uplink.type is UplinkType.POSITION:
            assert uplink.fix is not None
            return self._position(radio, uplink.fix, topic)
        if uplink.type is UplinkType.STATUS:
            assert uplink.status is not None
            return UnitStatusReport(address=radio, status=uplink.status, evidence=evidence)
        if uplink.type is UplinkType.TEXT:
            assert uplink.text is not None
            return InboundText(address=radio, text=uplink.text, evidence=evidence)
        assert uplink.id is not None
        went_to = self._sent.get(uplink.id)
        if went_to is not None and went_to.startswith(codec.TALKGROUP_PREFIX):
            evidence["talkgroup"] = went_to
        elif went_to is None and uplink.group is not None:
            evidence["talkgroup"] = codec.TALKGROUP_PREFIX + uplink.group
        if uplink.type is UplinkType.DELIVERED:
            return DeliveryReport(
                channel_ref=uplink.id, delivered=True, evidence={"radio": radio, **evidence}
            )
        return RadioAck(address=radio, message_id=uplink.id, channel_ref=uplink.id, evidence=evidence)

    def _remember(self, table: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.options.dedupe_window:
            table.popitem(last=False)


def _inbox(handler: Callable[[aiomqtt.Message], None]) -> type[asyncio.Queue[aiomqtt.Message]]:
    """A queue type for aiomqtt's `queue_type` hook that hands each incoming PUBLISH straight to
    `handler` (in the event loop thread, from paho's read callback) instead of queueing it for
    the message iterator, which costs a task and an `asyncio.wait` per message."""

    class Inbox(asyncio.Queue[aiomqtt.Message]):
        def put_nowait(self, item: aiomqtt.Message) -> None:
            handler(item)

    return Inbox


def _properties(packet_type: int) -> Properties:
    return Properties(packet_type)  # type: ignore[no-untyped-call]  # paho ships no annotation here


def build(name: str, options: dict[str, Any], max_length: int | None = None) -> Channel:
    opts = Options(**options)
    if max_length is not None:
        opts = opts.model_copy(update={"max_length": max_length})
    return RadioMqttChannel(name=name, options=opts)
