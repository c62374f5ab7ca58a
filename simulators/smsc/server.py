"""The simulated SMSC: a TCP server taking ESME binds, submit_sm and enquire_link, and sending
receipts and mobile-originated messages as deliver_sm (SMPP 3.4 §4)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import struct
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

from simulators.smsc.gsm import gsm_encode
from simulators.smsc.records import Account, EsmeConnection, Job, Submitted, TokenBucket, parse_submit
from simulators.smsc.wire import (
    BIND_RECEIVER,
    BIND_TRANSCEIVER,
    BIND_TRANSMITTER,
    DELIVER_SM,
    ENQUIRE_LINK,
    FAULTS,
    GENERIC_NACK,
    KNOWN_REQUESTS,
    MAX_PDU,
    RALYBND,
    RESP,
    RINVBNDSTS,
    RINVCMDID,
    RINVCMDLEN,
    RINVPASWD,
    RINVSYSID,
    ROK,
    RTHROTTLED,
    RX_T_APPN,
    STATES,
    SUBMIT_SM,
    T_NETWORK_ERROR,
    T_RECEIPTED_ID,
    T_SC_VERSION,
    T_STATE,
    UNBIND,
    Behaviour,
    Body,
    Malformed,
    cstr,
    pdu,
    sm_body,
    tlv,
)


@dataclass
class Smsc:
    port: int = 0
    host: str = "127.0.0.1"
    accounts: dict[str, str] = field(default_factory=lambda: {"callout": "secret"})
    window: int | None = None  # outstanding submit_sm per session; None: unlimited
    window_reply: Literal["throttled", "generic_nack"] = "throttled"
    rate: float | None = None  # token bucket, submit_sm per second; None: unlimited
    burst: float = 1.0
    submit_delay: float = 0.0  # seconds before each submit_sm_resp
    receipt_delay: float = 0.05
    receipt_jitter: float = 0.0  # extra random delay per receipt: receipts out of order
    duplicates: int = 0  # extra copies of every receipt
    receipt_format: Literal["tlv+text", "text", "tlv"] = "tlv+text"
    id_radix: Literal["dec", "hex"] = "dec"  # how the receipt text prints the (decimal) id
    behaviours: dict[str, Behaviour] = field(default_factory=dict)  # destination -> behaviour
    auto_reply: str = ""  # an MO text from the handset after each delivered message
    reply_delay: float = 0.05
    redeliver_after: float = 5.0  # deliver_sm without deliver_sm_resp goes again after this
    enquire_link_interval: float | None = None  # the SMSC's own enquire_link
    echo: bool = False
    seed: int | None = None
    # records
    submits: list[Submitted] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (destination, reassembled text)
    binds: int = 0
    bind_failures: int = 0
    throttled: int = 0
    window_violations: int = 0
    max_outstanding: int = 0
    enquire_links: int = 0  # received from the ESME
    enquire_link_resps: int = 0  # answers to ours
    deliver_sent: int = 0
    deliver_acked: int = 0
    redeliveries: int = 0
    generic_nacks: int = 0
    unbinds: int = 0

    async def __aenter__(self) -> Self:
        self._rng = random.Random(self.seed)
        self._ids = itertools.count(1_000_001)
        self._conns = itertools.count(1)
        self._accounts = {sid: Account(pw) for sid, pw in self.accounts.items()}
        self._sessions: set[EsmeConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # per-session helpers
        self._handlers: set[asyncio.Future[None]] = set()  # one per connection, ended by closing it
        self._timers: set[asyncio.TimerHandle] = set()
        self._bucket = TokenBucket(self.rate, self.burst) if self.rate else None
        self._parts: dict[tuple[str, int], dict[int, str]] = {}
        self._thawed = asyncio.Event()
        self._thawed.set()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.close()
        for timer in self._timers:
            timer.cancel()
        self.drop_connections()
        self._thawed.set()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=2.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    # ---- fault injection and field side ---------------------------------------------------------
    def drop_connections(self) -> None:
        """Abrupt close: every TCP connection reset, no unbind."""
        for s in list(self._sessions):
            s.closed = True
            s.writer.transport.abort()

    def freeze(self) -> None:
        """Stop reading and answering; sockets stay open (a hung SMSC)."""
        self._thawed.clear()

    def thaw(self) -> None:
        self._thawed.set()

    @property
    def bound_sessions(self) -> int:
        return sum(1 for s in self._sessions if s.mode and not s.closed)

    def inject_mo(
        self, source: str, text: str, *, destination: str = "", system_id: str | None = None, parts: int = 1
    ) -> None:
        """A handset sends `text`: one deliver_sm, or `parts` UDH-concatenated ones (GSM or UCS2)."""
        account = self._account(system_id)
        enc = gsm_encode(text)
        coding, data, unit = (0, enc, 1) if enc is not None else (8, text.encode("utf-16-be"), 2)
        if parts <= 1:
            body = sm_body(source=source, dest=destination, esm_class=0, coding=coding, message=data)
            account.push(Job(body, "mo", source))
            return
        ref = self._rng.randrange(256)
        size = -(-len(data) // parts // unit) * unit
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        for n, chunk in enumerate(chunks, start=1):
            udh = bytes((5, 0, 3, ref, len(chunks), n))
            body = sm_body(
                source=source, dest=destination, esm_class=0x40, coding=coding, message=udh + chunk
            )
            account.push(Job(body, "mo", source))

    async def enquire_link(self) -> None:
        """Send one enquire_link on every bound session now."""
        for s in list(self._sessions):
            if s.mode:
                s.write(pdu(ENQUIRE_LINK, 0, next(s.seq)))

    def _account(self, system_id: str | None) -> Account:
        if system_id is None:
            return next(iter(self._accounts.values()))
        return self._accounts[system_id]

    # ---- one TCP connection ---------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s = EsmeConnection(next(self._conns), reader, writer)
        self._sessions.add(s)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._handlers.add(done)
        helpers: list[asyncio.Task[None]] = []
        buf = bytearray()
        try:
            while not s.closed:
                data = await reader.read(65536)
                if not data:
                    break
                await self._thawed.wait()
                buf += data
                while len(buf) >= 4 and not s.closed:
                    (length,) = struct.unpack_from(">I", buf)
                    if length < 16 or length > MAX_PDU:
                        seq = struct.unpack_from(">I", buf, 12)[0] if len(buf) >= 16 else 0
                        s.write(pdu(GENERIC_NACK, RINVCMDLEN, seq))
                        self.generic_nacks += 1
                        s.closed = True
                        break
                    if len(buf) < length:
                        break
                    frame = bytes(buf[:length])
                    del buf[:length]
                    was_bound = bool(s.mode)
                    self._on_pdu(s, frame)
                    if s.mode and not was_bound:
                        helpers.append(self._start(self._deliver_loop(s), f"smsc.{s.number}.deliver"))
                        if self.enquire_link_interval:
                            helpers.append(self._start(self._keepalive(s), f"smsc.{s.number}.keepalive"))
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            s.closed = True
            self._sessions.discard(s)
            for job, timer in s.awaiting.values():
                timer.cancel()
                self._account(s.system_id).push(job, front=True)
            s.awaiting.clear()
            for h in helpers:
                h.cancel()
            if s.graceful:
                writer.transport.close()  # flushes unbind_resp first
            else:
                writer.transport.abort()
            done.set_result(None)
            self._handlers.discard(done)

    def _start(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _on_pdu(self, s: EsmeConnection, frame: bytes) -> None:
        _, cid, status, seq = struct.unpack_from(">IIII", frame)
        body = Body(frame[16:])
        if cid not in KNOWN_REQUESTS and cid not in (DELIVER_SM | RESP, ENQUIRE_LINK | RESP, GENERIC_NACK):
            s.write(pdu(GENERIC_NACK, RINVCMDID, seq))
            self.generic_nacks += 1
            return
        try:
            if cid in (BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER):
                self._bind(s, cid, seq, body)
            elif cid == ENQUIRE_LINK:
                self.enquire_links += 1
                s.write(pdu(ENQUIRE_LINK | RESP, 0, seq))
            elif not s.mode:  # §2.2: bind first
                s.write(pdu(cid | RESP if cid in KNOWN_REQUESTS else GENERIC_NACK, RINVBNDSTS, seq))
            elif cid == SUBMIT_SM:
                self._submit(s, seq, body)
            elif cid == UNBIND:
                self.unbinds += 1
                s.write(pdu(UNBIND | RESP, 0, seq))
                s.graceful = s.closed = True
            elif cid == DELIVER_SM | RESP:
                self._deliver_resp(s, seq, status)
            elif cid == ENQUIRE_LINK | RESP:
                self.enquire_link_resps += 1
            elif cid == DELIVER_SM:
                s.write(pdu(DELIVER_SM | RESP, RINVBNDSTS, seq, cstr("")))
        except Malformed:
            s.write(pdu(GENERIC_NACK, RINVCMDLEN, seq))
            self.generic_nacks += 1

    def _bind(self, s: EsmeConnection, cid: int, seq: int, body: Body) -> None:
        system_id, password = body.cstr(), body.cstr()
        body.cstr()  # system_type
        body.take(3)  # interface_version, addr_ton, addr_npi
        body.cstr()  # address_range
        status = ROK
        if s.mode:
            status = RALYBND
        elif system_id not in self._accounts:
            status = RINVSYSID
        elif self._accounts[system_id].password != password:
            status = RINVPASWD
        if status:
            self.bind_failures += 1
            s.write(pdu(cid | RESP, status, seq))
            return
        s.mode, s.system_id = cid, system_id
        self.binds += 1
        s.write(pdu(cid | RESP, ROK, seq, cstr("SIMSMSC") + tlv(T_SC_VERSION, b"\x34")))
        if self.echo:
            mode = {BIND_RECEIVER: "receiver", BIND_TRANSMITTER: "transmitter"}.get(cid, "transceiver")
            print(f"[smsc] #{s.number} {system_id} bound as {mode}", flush=True)

    # ---- submit_sm ------------------------------------------------------------------------------
    def _submit(self, s: EsmeConnection, seq: int, body: Body) -> None:
        rec = parse_submit(s.system_id, body)
        if s.mode == BIND_RECEIVER:
            s.write(pdu(SUBMIT_SM | RESP, RINVBNDSTS, seq))
            return
        if self.window is not None and s.outstanding >= self.window:
            self.window_violations += 1
            self.throttled += 1
            reply = GENERIC_NACK if self.window_reply == "generic_nack" else SUBMIT_SM | RESP
            s.write(pdu(reply, RTHROTTLED, seq))
            return
        if self._bucket is not None and not self._bucket.take():
            self.throttled += 1
            rec.status = RTHROTTLED
            self.submits.append(rec)
            s.write(pdu(SUBMIT_SM | RESP, RTHROTTLED, seq))
            return
        dest = rec.destination
        behaviour = self.behaviours.get(dest.lstrip("+"), self.behaviours.get("+" + dest, "ok"))
        rec.status = FAULTS.get(behaviour, ROK)
        rec.message_id = str(next(self._ids)) if rec.status == ROK else ""
        self.submits.append(rec)
        s.outstanding += 1
        self.max_outstanding = max(self.max_outstanding, s.outstanding)
        ok = rec.status == ROK
        resp = pdu(SUBMIT_SM | RESP, rec.status, seq, cstr(rec.message_id) if ok else b"")
        if self.submit_delay > 0:
            self._later(self.submit_delay, self._respond, s, resp)
        else:
            self._respond(s, resp)
        if not ok:
            return
        whole = self._reassemble(dest, rec.text, rec.concat)
        if whole is not None:
            self.texts.append((dest, whole))
            if self.echo:
                print(f"[smsc] {s.system_id} -> {dest}: {whole!r} (id {rec.message_id})", flush=True)
        self._receipt(rec, behaviour, last=whole is not None)

    def _respond(self, s: EsmeConnection, resp: bytes) -> None:
        s.outstanding -= 1
        s.write(resp)

    def _reassemble(self, dest: str, text: str, concat: tuple[int, int, int] | None) -> str | None:
        if concat is None or concat[1] < 2:
            return text
        ref, total, n = concat
        parts = self._parts.setdefault((dest, ref), {})
        parts[n] = text
        if len(parts) < total:
            return None
        del self._parts[(dest, ref)]
        return "".join(parts.get(i, "") for i in range(1, total + 1))

    # ---- receipts and MO ------------------------------------------------------------------------
    def _receipt(self, rec: Submitted, behaviour: Behaviour, *, last: bool) -> None:
        """§4.6.1 deliver_sm with esm_class 0x04 (Appendix B text and/or TLVs), after a delay."""
        stat = {"undeliverable": "UNDELIV", "expire": "EXPIRED"}.get(behaviour, "DELIVRD")
        wanted = rec.registered_delivery & 0x03
        if behaviour == "silent" or wanted == 0 or (wanted == 2 and stat == "DELIVRD"):
            return
        account = self._accounts[rec.system_id]
        message_id, source, dest, text = rec.message_id, rec.source, rec.destination, rec.text
        err = "000" if stat == "DELIVRD" else "001"
        stamp = time.strftime("%y%m%d%H%M")
        shown = message_id if self.id_radix == "dec" else format(int(message_id), "X")
        receipt_text = (
            f"id:{shown} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} submit date:{stamp} "
            f"done date:{stamp} stat:{stat} err:{err} text:{text[:20]}"
        )
        tlvs = b""
        if self.receipt_format != "text":
            tlvs = tlv(T_RECEIPTED_ID, cstr(message_id)) + tlv(T_STATE, bytes((STATES[stat],)))
            if stat != "DELIVRD":
                tlvs += tlv(T_NETWORK_ERROR, b"\x03\x00\x01")
        message = b"" if self.receipt_format == "tlv" else receipt_text.encode("ascii", errors="replace")
        body = sm_body(source=dest, dest=source, esm_class=0x04, coding=0, message=message, tlvs=tlvs)
        for _ in range(1 + self.duplicates):
            delay = self.receipt_delay + self._rng.uniform(0, self.receipt_jitter)
            self._later(delay, account.push, Job(body, "receipt", message_id))
        if last and stat == "DELIVRD" and self.auto_reply:
            delay = self.receipt_delay + self.reply_delay
            self._later(
                delay, self.inject_mo, dest, self.auto_reply, destination=source, system_id=rec.system_id
            )

    def _later(self, delay: float, fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        loop = asyncio.get_running_loop()

        def run() -> None:
            self._timers.discard(handle)
            fn(*args, **kwargs)

        handle = loop.call_later(max(0.0, delay), run)
        self._timers.add(handle)

    async def _deliver_loop(self, s: EsmeConnection) -> None:
        if not s.receives:
            return
        account = self._accounts[s.system_id]
        loop = asyncio.get_running_loop()
        while not s.closed:
            if not account.outbox:
                account.ready.clear()
                await account.ready.wait()
                continue
            await self._thawed.wait()
            if s.closed:
                return
            for _ in range(min(64, len(account.outbox))):  # a burst, then let others run
                job = account.outbox.popleft()
                job.attempts += 1
                if job.attempts > 1:
                    self.redeliveries += 1
                seq = next(s.seq)
                timer = loop.call_later(self.redeliver_after, self._redeliver, s, seq)
                s.awaiting[seq] = (job, timer)
                self.deliver_sent += 1
                s.write(pdu(DELIVER_SM, 0, seq, job.body))
            with contextlib.suppress(ConnectionError):
                await s.writer.drain()
            await asyncio.sleep(0)

    def _redeliver(self, s: EsmeConnection, seq: int) -> None:
        entry = s.awaiting.pop(seq, None)
        if entry is not None:
            self._accounts[s.system_id].push(entry[0])

    def _deliver_resp(self, s: EsmeConnection, seq: int, status: int) -> None:
        entry = s.awaiting.pop(seq, None)
        if entry is None:
            return
        job, timer = entry
        timer.cancel()
        if status == RX_T_APPN:  # temporary application error: try again shortly
            self._later(min(1.0, self.redeliver_after), self._accounts[s.system_id].push, job)
            return
        self.deliver_acked += 1

    async def _keepalive(self, s: EsmeConnection) -> None:
        assert self.enquire_link_interval
        while not s.closed:
            await asyncio.sleep(self.enquire_link_interval)
            await self._thawed.wait()  # a hung SMSC sends nothing either
            s.write(pdu(ENQUIRE_LINK, 0, next(s.seq)))
