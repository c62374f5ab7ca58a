"""I/O of the smpp channel: one TCP session to the SMSC at a time, bound as transceiver.

Tasks (STYLE.md practice 4): `smpp.<name>.session` supervises connect → bind → run → reconnect
with back-off; while bound, one TaskGroup runs `…read` (PDUs in), `…write` (submit_sm out,
at most `window` outstanding, paused after ESME_RTHROTTLED / ESME_RMSGQFUL) and `…keepalive`
(enquire_link when idle). `send` queues the parts of a message and waits for their
submit_sm_resp; parts that were outstanding when a session dies are submitted again, in order,
on the next one, so a reconnect loses nothing (at worst the SMSC sees a part twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

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
from adapters.smpp import codec, content
from adapters.smpp.codec import SmppError, Status
from adapters.smpp.options import Options

log = logging.getLogger(__name__)
TRACK_LIMIT = 20_000  # part ids remembered for matching receipts
REPORTED_LIMIT = 4_096  # receipts for unknown ids remembered to drop duplicates
THROTTLING = frozenset({Status.ESME_RTHROTTLED, Status.ESME_RMSGQFUL})


class SubmitRejected(SmppError):
    """The SMSC answered a submit_sm with a non-zero command_status."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(codec.status_name(status))


class _SessionEnd(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(eq=False)
class _Tracked:
    """One outbound message, to turn part receipts into one DeliveryReport."""

    total: int
    ids: dict[int, str] = field(default_factory=dict)  # part index -> SMSC message_id
    delivered: set[str] = field(default_factory=set)
    failure: tuple[str, dict[str, Any]] | None = None
    reported: bool = False

    @property
    def channel_ref(self) -> str | None:
        return self.ids.get(0)


@dataclass(eq=False)
class _Part:
    order: int
    index: int
    wire: bytes  # the submit_sm, encoded with sequence_number 0
    future: asyncio.Future[str]
    tracked: _Tracked


@dataclass(eq=False)
class _Conn:
    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    window: asyncio.Semaphore
    splitter: codec.PduSplitter = field(default_factory=codec.PduSplitter)
    inflight: dict[int, _Part] = field(default_factory=dict)
    backlog: list[bytes] = field(default_factory=list)  # frames that came with bind_resp
    last_rx: float = 0.0
    link_ok: asyncio.Event = field(default_factory=asyncio.Event)
    unbound: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    ended: str = ""

    def end(self, reason: str) -> None:
        if not self.done.is_set():
            self.ended = reason
            self.done.set()

    def send(self, pdu: codec.Pdu) -> None:
        self.writer.write(codec.encode(pdu))


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
        self._queue: list[tuple[int, _Part]] = []
        self._queued = asyncio.Event()
        self._bound = asyncio.Event()
        self._order = itertools.count()
        self._seq = 0
        self._concat_ref = 0
        self._paused_until = 0.0
        self._throttle_level = 0
        self._conn: _Conn | None = None
        self._connections = itertools.count(1)
        self._by_id: OrderedDict[str, _Tracked] = OrderedDict()
        self._reported: OrderedDict[str, None] = OrderedDict()
        self._reassembler = content.Reassembler()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False
        self.binds = 0  # sessions bound so far (for operators and tests)

    # ---- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        o = self.options
        self._closing = False
        self._queued, self._bound = asyncio.Event(), asyncio.Event()  # loop-bound: made here
        self.set_health(HealthState.DOWN, f"connecting to {o.host}:{o.port}")
        self._supervisor = asyncio.create_task(self._supervise(), name=f"smpp.{self.name}.session")
        if o.start_wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(o.start_wait):
                    await self._bound.wait()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, task = self._conn, self._supervisor
        self._supervisor = None
        self._closing = True
        if conn is not None:  # §4.2: unbind, wait briefly for unbind_resp
            with contextlib.suppress(OSError, TimeoutError):
                conn.send(codec.Unbind(sequence=self._next_seq()))
                async with asyncio.timeout(1.0):
                    await conn.unbound.wait()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
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
            raise self.fail(f"cannot encode the message: {exc}", temporary=False, endpoint=address) from exc
        tracked = _Tracked(total=len(parts))
        loop = asyncio.get_running_loop()
        items = [
            _Part(next(self._order), i, wire, loop.create_future(), tracked) for i, wire in enumerate(wires)
        ]
        for item in items:
            heapq.heappush(self._queue, (item.order, item))
        self._queued.set()
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
            if not item.future.done():
                item.future.cancel()
            elif not item.future.cancelled():
                item.future.exception()  # retrieved: no "never retrieved" warning

    def _next_seq(self) -> int:
        self._seq = self._seq % codec.MAX_SEQUENCE + 1
        return self._seq

    def _next_concat_ref(self) -> int:
        self._concat_ref = (self._concat_ref + 1) & 0xFF
        return self._concat_ref

    # ---- the session ----------------------------------------------------------------------------
    async def _supervise(self) -> None:
        o = self.options
        delays = reconnect_delays(first=o.reconnect_min, cap=o.reconnect_max)
        while True:
            bound_before = self.binds
            try:
                await self._session()
                reason = "session ended"
            except _SessionEnd as exc:
                reason = exc.reason
            except Exception as exc:  # a bug must not end the channel: log it and reconnect
                log.exception("smpp %s: session failed", self.name)
                reason = f"unexpected error: {exc!r}"
            if self._closing:
                return
            if self.binds != bound_before:
                delays = reconnect_delays(first=o.reconnect_min, cap=o.reconnect_max)
            delay = next(delays)
            log.warning("smpp %s: %s; reconnecting in %.1fs", self.name, reason, delay)
            self.set_health(HealthState.DOWN, f"{reason}; reconnecting in {delay:.1f}s")
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        o = self.options
        try:
            async with asyncio.timeout(o.connect_timeout):
                reader, writer = await asyncio.open_connection(o.host, o.port)
        except (OSError, TimeoutError) as exc:
            raise _SessionEnd(f"cannot connect to {o.host}:{o.port}: {exc!r}") from exc
        loop = asyncio.get_running_loop()
        conn = _Conn(
            next(self._connections), reader, writer, asyncio.Semaphore(o.window), last_rx=loop.time()
        )
        try:
            await self._bind(conn)
            self._conn = conn
            self.binds += 1
            self._bound.set()
            log.info("smpp %s#%d: bound to %s:%d", self.name, conn.number, o.host, o.port)
            self.set_health(HealthState.UP, f"bound as transceiver to {o.host}:{o.port}")
            for frame in conn.backlog:
                self._on_frame(conn, frame)
            # The loops never raise: each ends the session through `conn.end`, and this body
            # then cancels the others. (A child error would make Python 3.11's TaskGroup cancel
            # this task and leave that cancellation pending, which looks like a shutdown.)
            async with asyncio.TaskGroup() as tg:
                loops = [
                    tg.create_task(self._guard(conn, self._read_loop(conn)), name=f"smpp.{self.name}.read"),
                    tg.create_task(self._guard(conn, self._write_loop(conn)), name=f"smpp.{self.name}.write"),
                    tg.create_task(
                        self._guard(conn, self._keepalive(conn)), name=f"smpp.{self.name}.keepalive"
                    ),
                ]
                await conn.done.wait()
                for task in loops:
                    task.cancel()
            raise _SessionEnd(conn.ended)
        finally:
            self._disconnected(conn)
            writer.transport.abort()

    async def _guard(self, conn: _Conn, loop: Coroutine[Any, Any, None]) -> None:
        try:
            await loop
        except _SessionEnd as exc:
            conn.end(exc.reason)
        except (OSError, SmppError) as exc:
            conn.end(f"connection lost: {exc!r}")
        except Exception as exc:
            log.exception("smpp %s#%d: loop failed", self.name, conn.number)
            conn.end(f"unexpected error: {exc!r}")
        else:
            conn.end("a session loop ended")

    async def _bind(self, conn: _Conn) -> None:
        """§4.1.5: bind_transceiver, then wait for its response (§2.2: nothing else before)."""
        o = self.options
        seq = self._next_seq()
        conn.send(
            codec.Bind(
                sequence=seq,
                mode=codec.BindMode.TRANSCEIVER,
                system_id=o.system_id,
                password=o.password,
                system_type=o.system_type,
                address_range=o.address_range,
            )
        )
        try:
            async with asyncio.timeout(o.bind_timeout):
                while True:
                    data = await conn.reader.read(65536)
                    if not data:
                        raise _SessionEnd("the SMSC closed the connection during bind")
                    frames = conn.splitter.feed(data)
                    for n, frame in enumerate(frames):
                        pdu = codec.decode(frame)
                        if pdu.sequence != seq:
                            continue
                        if isinstance(pdu, codec.BindResp | codec.GenericNack) and pdu.status:
                            raise _SessionEnd(f"bind refused: {codec.status_name(pdu.status)}")
                        if isinstance(pdu, codec.BindResp):
                            conn.backlog = frames[n + 1 :]
                            return
        except TimeoutError as exc:
            raise _SessionEnd(f"no bind_transceiver_resp within {o.bind_timeout:g}s") from exc
        except (OSError, SmppError) as exc:
            raise _SessionEnd(f"bind failed: {exc!r}") from exc

    def _disconnected(self, conn: _Conn) -> None:
        if self._conn is conn:
            self._conn = None
        self._bound.clear()
        for part in conn.inflight.values():
            if not part.future.done():
                heapq.heappush(self._queue, (part.order, part))
        if conn.inflight:
            log.info("smpp %s#%d: %d outstanding parts requeued", self.name, conn.number, len(conn.inflight))
        conn.inflight.clear()
        self._queued.set()

    async def _read_loop(self, conn: _Conn) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await conn.reader.read(65536)
            if not data:
                raise _SessionEnd("the SMSC closed the connection")
            conn.last_rx = loop.time()
            for frame in conn.splitter.feed(data):
                self._on_frame(conn, frame)

    async def _write_loop(self, conn: _Conn) -> None:
        loop = asyncio.get_running_loop()
        while True:
            pause = self._paused_until - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            await conn.window.acquire()
            part = await self._next_part()
            if self._paused_until > loop.time():  # throttled while we waited for a part
                heapq.heappush(self._queue, (part.order, part))
                conn.window.release()
                continue
            seq = self._next_seq()
            conn.inflight[seq] = part
            conn.writer.write(part.wire[:12] + seq.to_bytes(4, "big") + part.wire[16:])
            await conn.writer.drain()

    async def _next_part(self) -> _Part:
        while True:
            while self._queue:
                _, part = heapq.heappop(self._queue)
                if not part.future.done():
                    return part
            self._queued.clear()
            await self._queued.wait()

    async def _keepalive(self, conn: _Conn) -> None:
        """§4.11: enquire_link after `enquire_link_interval` of silence from the SMSC."""
        o = self.options
        loop = asyncio.get_running_loop()
        while True:
            idle = loop.time() - conn.last_rx
            if idle < o.enquire_link_interval:
                await asyncio.sleep(o.enquire_link_interval - idle)
                continue
            conn.link_ok.clear()
            conn.send(codec.EnquireLink(sequence=self._next_seq()))
            try:
                async with asyncio.timeout(o.enquire_link_timeout):
                    await conn.link_ok.wait()
            except TimeoutError as exc:
                raise _SessionEnd(f"no enquire_link_resp within {o.enquire_link_timeout:g}s") from exc

    # ---- PDUs in --------------------------------------------------------------------------------
    def _on_frame(self, conn: _Conn, frame: bytes) -> None:
        try:
            pdu = codec.decode(frame)
        except codec.PduError as exc:
            log.warning("smpp %s#%d: bad PDU: %s", self.name, conn.number, exc)
            if exc.command_id == codec.CommandId.SUBMIT_SM_RESP:
                self._on_submit_resp(conn, exc.sequence, Status.ESME_RSYSERR, "")
            elif not codec.is_response(exc.command_id):  # §4.3: a request we cannot take
                conn.send(codec.GenericNack(sequence=exc.sequence, status=exc.status))
            return
        if isinstance(pdu, codec.SubmitSmResp):
            self._on_submit_resp(conn, pdu.sequence, pdu.status, pdu.message_id)
        elif isinstance(pdu, codec.DeliverSm):
            self._on_deliver(conn, pdu)
        elif isinstance(pdu, codec.EnquireLink):
            conn.send(codec.EnquireLinkResp(sequence=pdu.sequence))
        elif isinstance(pdu, codec.EnquireLinkResp):
            conn.link_ok.set()
        elif isinstance(pdu, codec.GenericNack):
            if pdu.sequence in conn.inflight:
                self._on_submit_resp(conn, pdu.sequence, pdu.status or Status.ESME_RSYSERR, "")
            else:
                log.warning(
                    "smpp %s#%d: generic_nack %s", self.name, conn.number, codec.status_name(pdu.status)
                )
        elif isinstance(pdu, codec.Unbind):  # §4.2: answer, then the session is over
            conn.send(codec.UnbindResp(sequence=pdu.sequence))
            raise _SessionEnd("the SMSC unbound")
        elif isinstance(pdu, codec.UnbindResp):
            conn.unbound.set()
            raise _SessionEnd("unbound")
        elif not codec.is_response(pdu.command_id):
            conn.send(codec.GenericNack(sequence=pdu.sequence, status=Status.ESME_RINVBNDSTS))

    def _on_submit_resp(self, conn: _Conn, seq: int, status: int, message_id: str) -> None:
        part = conn.inflight.pop(seq, None)
        if part is None:
            log.warning("smpp %s#%d: response to unknown sequence %d", self.name, conn.number, seq)
            return
        conn.window.release()
        if part.future.done():  # the send gave up meanwhile
            return
        if status == Status.ESME_ROK:
            self._throttle_level = 0
            part.future.set_result(message_id)
            self._track(part.tracked, part.index, message_id)
        elif status in THROTTLING:
            self._throttle(status)
            heapq.heappush(self._queue, (part.order, part))
            self._queued.set()
        else:
            part.future.set_exception(SubmitRejected(status))

    def _throttle(self, status: int) -> None:
        """Pause every submission; the pause doubles while the SMSC keeps refusing."""
        o = self.options
        now = asyncio.get_running_loop().time()
        if now < self._paused_until:
            return  # already paused for this episode (other outstanding parts were refused too)
        delay = min(o.throttle_backoff_max, o.throttle_backoff * 2**self._throttle_level)
        self._throttle_level = min(self._throttle_level + 1, 30)
        self._paused_until = now + delay
        log.info("smpp %s: %s, pausing submissions for %.2fs", self.name, codec.status_name(status), delay)

    def _on_deliver(self, conn: _Conn, pdu: codec.DeliverSm) -> None:
        """§4.6.1: a receipt or a mobile-originated text; always answered (§4.6.2)."""
        try:
            what = content.interpret_deliver(pdu)
        except SmppError as exc:
            log.warning("smpp %s#%d: unusable deliver_sm: %s", self.name, conn.number, exc)
            # A permanent application error: an SMSC must not redeliver what we cannot read.
            conn.send(codec.DeliverSmResp(sequence=pdu.sequence, status=Status.ESME_RX_P_APPN))
            return
        conn.send(codec.DeliverSmResp(sequence=pdu.sequence))
        if isinstance(what, content.Receipt):
            self._on_receipt(what)
            return
        text = what.text
        if what.concat is not None:
            whole = self._reassembler.add(what.source, what.concat, what.text)
            if whole is None:
                return
            text = whole
        address = what.source
        if what.source_ton == 1 and address and not address.startswith("+"):
            address = "+" + address
        self.emit(InboundText(address=address, text=text, evidence={"smpp_destination": what.destination}))

    # ---- receipts -------------------------------------------------------------------------------
    def _track(self, tracked: _Tracked, index: int, message_id: str) -> None:
        tracked.ids[index] = message_id
        self._by_id[message_id.lower()] = tracked
        while len(self._by_id) > TRACK_LIMIT:
            self._by_id.popitem(last=False)
        self._maybe_report(tracked)

    def _on_receipt(self, receipt: content.Receipt) -> None:
        if not receipt.final:
            log.debug("smpp %s: intermediate receipt %s", self.name, receipt.stat)
            return
        ref = content.receipt_reference(receipt, self.options.receipt_id)
        evidence: dict[str, Any] = {"smpp_message_id": ref, "stat": receipt.stat, "err": receipt.err}
        reason = "" if receipt.delivered else f"{receipt.stat} err:{receipt.err or '-'}"
        tracked = self._by_id.get(ref.lower())
        if tracked is None:  # sent before a restart, or forgotten: report it under its own id
            if ref in self._reported:
                return
            self._reported[ref] = None
            while len(self._reported) > REPORTED_LIMIT:
                self._reported.popitem(last=False)
            self.emit(DeliveryReport(ref, delivered=receipt.delivered, reason=reason, evidence=evidence))
            return
        if receipt.delivered:
            tracked.delivered.add(ref.lower())
        elif tracked.failure is None:
            tracked.failure = (reason, evidence)
        self._maybe_report(tracked)

    def _maybe_report(self, t: _Tracked) -> None:
        ref = t.channel_ref
        if t.reported or ref is None:
            return
        if t.failure is not None:
            reason, evidence = t.failure
            t.reported = True
            self.emit(DeliveryReport(ref, delivered=False, reason=reason, evidence=evidence))
        elif len(t.ids) == t.total and all(i.lower() in t.delivered for i in t.ids.values()):
            t.reported = True
            evidence = {"smpp_message_id": ref, "stat": "DELIVRD"}
            if t.total > 1:
                evidence["parts"] = t.total
            self.emit(DeliveryReport(ref, delivered=True, evidence=evidence))


def build(name: str, options: dict[str, Any], max_length: int | None = None) -> Channel:
    opts = Options(**(options if max_length is None else {**options, "max_length": max_length}))
    return SmppChannel(name=name, options=opts)
