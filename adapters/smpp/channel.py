"""I/O of the smpp channel: one TCP session to the SMSC at a time, bound as transceiver.

The protocol lives in `session.py` (a sans-I/O state machine); this module is its pump. Tasks
(docs/style.md practice 4, started with `start_task`): `smpp.<name>.session` supervises
connect → bind → pump → reconnect with back-off; while connected, `…reader` feeds the bytes the
SMSC sends to the session. The pump writes what the session has to send, submits queued parts
while the session has room in its window (and is not pausing after ESME_RTHROTTLED /
ESME_RMSGQFUL), sleeps until the session's `deadline()` or new work, and turns session events
into futures, receipts and `emit()`. `send` queues the parts of a message and waits for their
submit_sm_resp; parts that were outstanding when a session dies are submitted again, in order,
on the next one, so a reconnect loses nothing (at worst the SMSC sees a part twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from dataclasses import dataclass
from typing import Any

from adapters.backoff import reconnect_delays
from adapters.base import (
    Capabilities,
    Channel,
    DeliveryReport,
    HealthState,
    InboundText,
    OutboundMessage,
    SendReceipt,
)
from adapters.errors import CalloutError, ProtocolError
from adapters.smpp import codec, content
from adapters.smpp import session as smpp
from adapters.smpp.codec import SmppError
from adapters.smpp.options import Options
from adapters.smpp.receipts import Report, Track

log = logging.getLogger(__name__)


class SubmitRejected(CalloutError):
    """The SMSC answered a submit_sm with a non-zero command_status (§5.1.3)."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(codec.status_name(status))


class _SessionEnd(CalloutError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(eq=False)
class _Part:
    order: int
    index: int
    wire: bytes  # the submit_sm, encoded with sequence_number 0
    future: asyncio.Future[str]
    tracked: Track
    seq: int = 0  # its sequence_number while outstanding


class SmppChannel(Channel):
    kind = "smpp"

    def __init__(self, *, name: str, options: Options) -> None:
        super().__init__(
            name=name,
            capabilities=Capabilities(
                max_length=options.max_length,
                max_parts=1,  # long texts are split here, as UDH parts
                confirms_delivery=options.registered_delivery == codec.RD_FINAL,
                two_way=True,
            ),
        )
        self.options = options
        self.session = smpp.SmppSession(
            window=options.window,
            enquire_link_interval=options.enquire_link_interval,
            enquire_link_timeout=options.enquire_link_timeout,
            bind_timeout=options.bind_timeout,
            throttle_backoff=options.throttle_backoff,
            throttle_backoff_max=options.throttle_backoff_max,
            receipt_id=options.receipt_id,
        )
        self._queue: list[tuple[int, _Part]] = []
        self._inflight: dict[int, _Part] = {}
        self._order = itertools.count()
        self._concat_ref = 0
        self._wake = asyncio.Event()
        self._bound = asyncio.Event()
        self._ended = asyncio.Event()
        self._end_reason = ""
        self._writer: asyncio.StreamWriter | None = None
        self._connections = itertools.count(1)
        self._number = 0
        self._supervisor: asyncio.Task[None] | None = None
        self.binds = 0  # sessions bound so far (for operators and tests)

    # ---- lifecycle ------------------------------------------------------------------------------
    async def _open(self) -> None:
        o = self.options
        self._wake, self._bound, self._ended = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self.set_health(HealthState.DOWN, f"connecting to {o.host}:{o.port}")
        self._supervisor = self.start_task("session", self._supervise)
        if o.start_wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(o.start_wait):
                    await self._bound.wait()

    async def _close(self) -> None:
        task, self._supervisor = self._supervisor, None
        if self._writer is not None and self.session.state is smpp.State.BOUND:
            with contextlib.suppress(OSError, TimeoutError):  # §4.2: unbind, wait for unbind_resp
                self._ended.clear()
                self.session.unbind()
                self._flush()
                async with asyncio.timeout(1.0):
                    await self._ended.wait()
        self.stop_task("session")
        if task is not None:
            await asyncio.wait([task])
        while self._queue:
            _, part = heapq.heappop(self._queue)
            if not part.future.done():
                part.future.set_exception(_SessionEnd("channel stopped"))
        self.set_health(HealthState.DOWN, "stopped")

    # ---- sending --------------------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendReceipt:
        address = message.address
        if self._supervisor is None:
            raise self.fail("channel not started", temporary=True, endpoint=address)
        try:
            parts = content.split_text(
                message.text, ref=self._next_concat_ref(), encoding=self.options.encoding
            )
            wires = [self._submit_wire(address, p) for p in parts]
        except SmppError as exc:
            raise self.fail(
                f"cannot encode the message: {exc.problem}", temporary=False, endpoint=address
            ) from exc
        tracked = Track(total=len(parts))
        loop = asyncio.get_running_loop()
        items = [
            _Part(next(self._order), i, wire, loop.create_future(), tracked) for i, wire in enumerate(wires)
        ]
        for item in items:
            heapq.heappush(self._queue, (item.order, item))
        self._wake.set()
        try:
            async with asyncio.timeout(self.options.send_timeout):
                ids = [await item.future for item in items]
        except TimeoutError as exc:
            self._abandon(items)
            raise self.fail(
                f"no submit_sm_resp within {self.options.send_timeout:g}s ({self.health.reason})",
                temporary=True,
                endpoint=address,
            ) from exc
        except SubmitRejected as exc:
            sent = [i.future.result() for i in items if i.future.done() and not i.future.exception()]
            self._abandon(items)
            raise self.fail(
                f"SMSC refused the message: {codec.status_name(exc.status)}",
                temporary=exc.status in codec.TEMPORARY_STATUSES,
                endpoint=address,
                command_status=exc.status,
                parts=len(items),
                parts_accepted=sent,
            ) from exc
        except _SessionEnd as exc:
            self._abandon(items)
            raise self.fail(exc.reason, temporary=True, endpoint=address) from exc
        except BaseException:
            self._abandon(items)
            raise
        evidence: dict[str, Any] = {"smpp_message_id": ids[0], "data_coding": parts[0].data_coding}
        if len(ids) > 1:
            evidence |= {"parts": len(ids), "smpp_message_ids": ids}
        return SendReceipt(channel_ref=ids[0], evidence=evidence)

    def _submit_wire(self, address: str, part: content.Part) -> bytes:
        o = self.options
        dest = address[1:] if o.dest_addr_ton == 1 and address.startswith("+") else address
        return codec.encode(
            codec.SubmitSm(
                sequence=0,
                service_type=o.service_type,
                source_addr_ton=o.source_addr_ton,
                source_addr_npi=o.source_addr_npi,
                source_addr=o.source_addr,
                dest_addr_ton=o.dest_addr_ton,
                dest_addr_npi=o.dest_addr_npi,
                destination_addr=dest,
                esm_class=part.esm_class,
                registered_delivery=o.registered_delivery,
                data_coding=part.data_coding,
                short_message=part.short_message,
            )
        )

    def _abandon(self, items: list[_Part]) -> None:
        for item in items:
            if self._inflight.get(item.seq) is item:  # still outstanding: its response frees the window
                del self._inflight[item.seq]
                self.session.forget(item.seq)
            if not item.future.done():
                item.future.cancel()
            elif not item.future.cancelled():
                item.future.exception()  # retrieved: no "never retrieved" warning

    def _next_concat_ref(self) -> int:
        self._concat_ref = (self._concat_ref + 1) & 0xFF
        return self._concat_ref

    # ---- connections ----------------------------------------------------------------------------
    async def _supervise(self) -> None:
        o = self.options
        delays = reconnect_delays(first=o.reconnect_min, cap=o.reconnect_max)
        while True:
            bound_before = self.binds
            try:
                await self._connection()
                reason = "session ended"
            except _SessionEnd as exc:
                reason = exc.reason
            except Exception as exc:  # a bug must not end the channel: log it and reconnect
                log.exception("smpp %s: session failed", self.name)
                reason = f"unexpected error: {exc!r}"
            if self.closing:
                return
            if self.binds != bound_before:
                delays = reconnect_delays(first=o.reconnect_min, cap=o.reconnect_max)
            delay = next(delays)
            log.warning("smpp %s: %s; reconnecting in %.1fs", self.name, reason, delay)
            self.set_health(HealthState.DOWN, f"{reason}; reconnecting in {delay:.1f}s")
            await asyncio.sleep(delay)

    async def _connection(self) -> None:
        """One TCP connection: bind as transceiver (§4.1.5), then pump until the session ends."""
        o = self.options
        try:
            async with asyncio.timeout(o.connect_timeout):
                reader, writer = await asyncio.open_connection(o.host, o.port)
        except (OSError, TimeoutError) as exc:
            raise _SessionEnd(f"cannot connect to {o.host}:{o.port}: {exc!r}") from exc
        loop = asyncio.get_running_loop()
        s = self.session
        self._number = next(self._connections)
        self._ended.clear()
        s.connected(loop.time())
        try:
            s.bind(
                loop.time(),
                system_id=o.system_id,
                password=o.password,
                system_type=o.system_type,
                address_range=o.address_range,
            )
            self._writer = writer
            self.start_task("reader", lambda: self._read(reader), restart=False)
            await self._pump(writer)
        finally:
            self.stop_task("reader")
            s.connection_lost("connection closed")
            self._on_events()
            self._writer = None
            self._bound.clear()
            writer.transport.abort()

    async def _pump(self, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        s = self.session
        while True:
            self._wake.clear()
            now = loop.time()
            s.tick(now)
            self._on_events()
            if s.state is not smpp.State.CLOSED:
                self._submit_queued(now)
            try:
                self._flush()
                await writer.drain()
            except OSError as exc:
                s.connection_lost(f"connection lost: {exc!r}")
                self._on_events()
            if s.state is smpp.State.CLOSED:
                raise _SessionEnd(self._end_reason)
            deadline = s.deadline()
            if not self._wake.is_set():
                wait = None if deadline is None else max(0.0, deadline - loop.time())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        """The bytes the SMSC sends, into the session; never raises (the session says why it ended)."""
        loop = asyncio.get_running_loop()
        s = self.session
        try:
            while True:
                data = await reader.read(65536)
                binding = s.state is smpp.State.BINDING
                if not data:
                    during = " during bind" if binding else ""
                    s.connection_lost(f"the SMSC closed the connection{during}")
                    return
                with contextlib.suppress(ProtocolError):  # the session closed itself, with the reason
                    s.receive_data(data, loop.time())
                self._wake.set()
        except OSError as exc:
            what = "bind failed" if s.state is smpp.State.BINDING else "connection lost"
            s.connection_lost(f"{what}: {exc!r}")
        except Exception as exc:
            log.exception("smpp %s#%d: reader failed", self.name, self._number)
            s.connection_lost(f"unexpected error: {exc!r}")
        finally:
            self._wake.set()

    def _flush(self) -> None:
        data = self.session.data_to_send()
        if data and self._writer is not None:
            self._writer.write(data)

    def _submit_queued(self, now: float) -> None:
        s = self.session
        while self._queue and s.can_submit(now):
            _, part = heapq.heappop(self._queue)
            if part.future.done():
                continue
            part.seq = s.submit(part.wire, now, track=part.tracked, part=part.index)
            self._inflight[part.seq] = part

    # ---- session events -------------------------------------------------------------------------
    def _on_events(self) -> None:
        for event in self.session.events_received():
            if isinstance(event, smpp.SubmitAccepted):
                part = self._inflight.pop(event.sequence, None)
                if part is not None and not part.future.done():
                    part.future.set_result(event.message_id)
            elif isinstance(event, smpp.SubmitThrottled):
                part = self._inflight.pop(event.sequence, None)
                if event.pause:
                    log.info(
                        "smpp %s: %s, pausing submissions for %.2fs",
                        self.name,
                        codec.status_name(event.status),
                        event.pause,
                    )
                if part is not None and not part.future.done():
                    heapq.heappush(self._queue, (part.order, part))
            elif isinstance(event, smpp.SubmitRefused):
                part = self._inflight.pop(event.sequence, None)
                if part is not None and not part.future.done():
                    part.future.set_exception(SubmitRejected(event.status))
            elif isinstance(event, Report):
                self.emit(
                    DeliveryReport(
                        event.channel_ref,
                        delivered=event.delivered,
                        reason=event.reason,
                        evidence=event.evidence,
                    )
                )
            elif isinstance(event, smpp.TextReceived):
                self.emit(
                    InboundText(
                        address=event.address,
                        text=event.text,
                        evidence={"smpp_destination": event.destination},
                    )
                )
            elif isinstance(event, smpp.Bound):
                o = self.options
                self.binds += 1
                self._bound.set()
                log.info("smpp %s#%d: bound to %s:%d", self.name, self._number, o.host, o.port)
                self.set_health(HealthState.UP, f"bound as transceiver to {o.host}:{o.port}")
            elif isinstance(event, smpp.Closed):
                self._closed(event)
            else:
                log.warning("smpp %s#%d: %s", self.name, self._number, event.text)

    def _closed(self, event: smpp.Closed) -> None:
        requeued = 0
        for seq in event.retry:
            part = self._inflight.pop(seq, None)
            if part is not None and not part.future.done():
                heapq.heappush(self._queue, (part.order, part))
                requeued += 1
        self._inflight.clear()
        if requeued:
            log.info("smpp %s#%d: %d outstanding parts requeued", self.name, self._number, requeued)
        self._end_reason = event.reason
        self._ended.set()


def build(name: str, options: dict[str, Any], max_length: int | None = None) -> Channel:
    opts = Options(**(options if max_length is None else {**options, "max_length": max_length}))
    return SmppChannel(name=name, options=opts)
