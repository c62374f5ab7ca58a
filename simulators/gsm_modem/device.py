"""The simulated GSM modem: SIM, network, SMS storage, the message centre behind it, fault
injection, and its ports (a pseudo-terminal and/or TCP). An async context manager for tests."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from simulators.gsm_modem import sms
from simulators.gsm_modem.at import PDU_STAT, CmsError, Session
from simulators.pty import RawPty

log = logging.getLogger(__name__)
MAX_PENDING_OUTPUT = 64 * 1024


@dataclass
class ReportPlan:
    """How the message centre answers a send that asked for a status report (TP-SRR)."""

    status: int = 0x00  # TP-ST (TS 23.040 §9.2.3.15)
    delay: float = 0.05
    duplicates: int = 0  # extra copies of the same report
    missing: bool = False  # never send it


@dataclass
class Faults:
    cms_error: int | None = None  # every send answers this +CMS ERROR
    cms_error_on: dict[int, int] = field(default_factory=dict)  # n-th send (from 1) -> code
    cms_error_for: dict[str, int] = field(default_factory=dict)  # destination -> code
    cms_error_rate: float = 0.0  # probability of a random code from `cms_error_codes`
    cms_error_codes: tuple[int, ...] = (500, 512, 513, 514, 515, 41, 42, 331, 332)
    swallow_sends: int = 0  # the next N sends get no answer at all after Ctrl-Z
    urc_at_prompt: list[str] = field(default_factory=list)  # once, right after the next `> `
    urc_before_result: list[str] = field(default_factory=list)  # once, after Ctrl-Z, before +CMGS
    seed: int | None = None


@dataclass
class Part:
    """One SMS-SUBMIT the modem accepted."""

    destination: str
    text: str
    mr: int
    concat: tuple[int, int, int] | None
    wants_report: bool


@dataclass
class Received:
    """A whole message (all parts of a concatenated one) the modem sent for a client."""

    destination: str
    text: str
    mrs: list[int]
    session: str


@dataclass
class Stored:
    """An SMS in the SIM storage "SM" (27.005 §3.1 <stat>: 0 unread, 1 read)."""

    index: int
    sender: str
    text: str
    when: datetime.datetime
    tpdu: bytes
    smsc: str
    stat: int = 0

    def render(self, sess: Session, *, listing: bool) -> list[str]:
        if sess.s.cmgf == 0:
            head = f"+CMGL: {self.index},{self.stat},," if listing else f"+CMGR: {self.stat},,"
            return [f"{head}{len(self.tpdu)}", (sms.write_smsc(self.smsc) + self.tpdu).hex().upper()]
        stat = PDU_STAT[self.stat]
        when = sms.text_timestamp(self.when)
        head = f'+CMGL: {self.index},"{stat}",' if listing else f'+CMGR: "{stat}",'
        return [f'{head}"{self.sender}",,"{when}"', self.text]


class GsmModem:
    """A GSM modem on a pty (`device`, optionally symlinked at `pty_link`) and/or TCP (`port`)."""

    def __init__(
        self,
        *,
        name: str = "gsm-modem",
        pty: bool = True,
        pty_link: str | Path | None = None,
        tcp_port: int | None = None,
        host: str = "127.0.0.1",
        sim: str = "READY",
        pin: str = "1234",
        registration: int = 1,
        ps_registration: int | None = None,
        signal: tuple[int, int] = (21, 99),
        echo: bool = True,
        send_latency: float = 0.0,
        reset_silence: float = 0.0,
        smsc: str = "+15550000000",
        report: ReportPlan | None = None,
        reports_for: dict[str, ReportPlan] | None = None,
        faults: Faults | None = None,
        storage_size: int = 30,
        first_mr: int = 0,
        on_message: Callable[[Received], None] | None = None,
    ) -> None:
        self.name = name
        self.use_pty, self.pty_link = pty, Path(pty_link) if pty_link else None
        self.tcp_port, self.host = tcp_port, host
        self.sim, self.pin, self.pin_attempts = sim.upper(), pin, 0
        self.registration, self.signal, self.fun = registration, signal, 1
        self.ps_registration = ps_registration  # +CGREG <stat>; None: the same as +CREG
        self.echo = echo
        self.send_latency, self.reset_silence = send_latency, reset_silence
        self.smsc = smsc
        self.report = report or ReportPlan()
        self.reports_for = reports_for or {}
        self.faults = faults or Faults()
        self.storage_size = storage_size
        self.on_message = on_message
        self.manufacturer, self.model, self.revision = "Callout Simulators", "GSM-SIM-1", "1.0.0"
        self.imei, self.imsi = "356938035643809", "001010123456789"
        # What happened, for tests.
        self.commands: list[str] = []
        self.parts: list[Part] = []
        self.received: list[Received] = []
        self.storage: dict[int, Stored] = {}
        self.sends = 0
        self.resets = 0
        self.reports_sent = 0
        self.device = ""
        self.port = 0
        self._mr = (first_mr - 1) % 256  # TP-MR of the last send; wraps 255 -> 0 (TS 23.040 §9.2.3.6)
        self._deliver_ref = 0
        self._silent_until = 0.0
        self._rng = random.Random(self.faults.seed)
        self._sessions: set[Session] = set()
        self._partial: dict[tuple[str, int, int], dict[int, Part]] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._changed = asyncio.Event()
        self._master = -1
        self._pending = bytearray()
        self._pty_session: Session | None = None
        self._server: asyncio.Server | None = None
        self._tcp_writers: set[asyncio.StreamWriter] = set()
        self._supervisor: asyncio.Task[None] | None = None

    # ---- lifecycle -----------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        if self.use_pty:
            self._open_pty()
        self._supervisor = asyncio.create_task(self._supervise(), name=f"{self.name}.sessions")
        if self.tcp_port is not None:
            self._server = await asyncio.start_server(self._tcp_client, self.host, self.tcp_port)
            self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._server is not None:
            self._server.close()
            for w in list(self._tcp_writers):
                w.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        self._close_pty()

    async def _supervise(self) -> None:
        async with asyncio.TaskGroup() as tg:
            if self._pty_session is not None:
                tg.create_task(self._pty_session.run(), name=f"{self.name}.pty")
            await asyncio.Event().wait()

    # ---- pty (the slave stays open here, so a client can close and reopen it) ---------------------
    def _open_pty(self) -> None:
        self._pty = RawPty(self.pty_link)
        self._master = self._pty.master
        self.device = self._pty.path
        self._pty_session = Session(self, self._pty_write, "pty")
        self._sessions.add(self._pty_session)
        self._loop.add_reader(self._master, self._pty_readable)

    def _close_pty(self) -> None:
        if self._master < 0:
            return
        self._loop.remove_reader(self._master)
        self._loop.remove_writer(self._master)
        self._pty.close()
        self._master = -1

    def _pty_readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # EIO: no one has the slave open (we do, so this is rare)
        if data and self._pty_session is not None:
            self._pty_session.feed(data)

    def _pty_write(self, data: bytes) -> None:
        if self._master < 0:
            return
        if self._pending:
            self._queue(data)
            return
        try:
            n = os.write(self._master, data)
        except BlockingIOError:
            n = 0
        except OSError:
            return
        if n < len(data):
            self._queue(data[n:])

    def _queue(self, data: bytes) -> None:
        self._pending += data
        if len(self._pending) > MAX_PENDING_OUTPUT:  # nobody reads the port: drop the oldest
            del self._pending[: len(self._pending) - MAX_PENDING_OUTPUT]
        self._loop.add_writer(self._master, self._pty_drain)

    def _pty_drain(self) -> None:
        try:
            n = os.write(self._master, self._pending)
        except BlockingIOError:
            return
        except OSError:
            n = len(self._pending)
        del self._pending[:n]
        if not self._pending:
            self._loop.remove_writer(self._master)

    # ---- TCP (each connection is a session of its own, with default settings) --------------------
    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, writer.write, f"tcp{len(self._tcp_writers) + 1}")
        self._sessions.add(session)
        self._tcp_writers.add(writer)
        try:
            async with asyncio.TaskGroup() as tg:
                runner = tg.create_task(session.run(), name=f"{self.name}.{session.name}")
                while data := await reader.read(4096):
                    session.feed(data)
                runner.cancel()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._sessions.discard(session)
            self._tcp_writers.discard(writer)
            writer.close()

    # ---- state ---------------------------------------------------------------------------------
    @property
    def silent(self) -> bool:
        return self._loop.time() < self._silent_until

    def silence(self, seconds: float) -> None:
        """Stop hearing and answering for `seconds` (a hung modem)."""
        self._silent_until = max(self._silent_until, self._loop.time() + seconds)

    def reset(self) -> None:
        """ATZ / AT+CFUN=1,1: OK has been sent; now silent for `reset_silence` seconds."""
        self.resets += 1
        if self.reset_silence > 0:
            self.silence(self.reset_silence)

    def registered_stat(self, packet: bool = False) -> int:
        """27.007 §7.2 <stat> (§10.1.20 for the packet domain): no SIM or radio off means not
        registered."""
        stat = self.ps_registration if packet and self.ps_registration is not None else self.registration
        return stat if self.sim == "READY" and self.fun == 1 else 0

    def set_registration(self, stat: int) -> None:
        self.registration = stat
        for sess in list(self._sessions):
            if sess.s.creg == 1:
                sess.urc(f"+CREG: {self.registered_stat()}")
            elif sess.s.creg == 2:
                sess.urc(f'+CREG: {self.registered_stat()},"00A1","1B2C"')

    def urc(self, text: str) -> None:
        """Send an unsolicited line to every session, now."""
        for sess in list(self._sessions):
            sess.urc(text)

    def at_prompt(self, sess: Session) -> None:
        while self.faults.urc_at_prompt:
            sess.urc(self.faults.urc_at_prompt.pop(0))

    # ---- sending (the message centre side) --------------------------------------------------------
    async def submit(self, sess: Session, sub: sms.Submitted) -> int | CmsError | None:
        """A client's SMS-SUBMIT: TP-MR, a +CMS ERROR, or None (swallowed, no answer)."""
        self.sends += 1
        n = self.sends
        while self.faults.urc_before_result:
            sess.urc(self.faults.urc_before_result.pop(0))
        if self.faults.swallow_sends > 0:
            self.faults.swallow_sends -= 1
            return None
        if self.send_latency > 0:
            await asyncio.sleep(self.send_latency)
        if self.registered_stat() not in (1, 5) and self.registered_stat(packet=True) not in (1, 5):
            return CmsError(331)
        code = (
            self.faults.cms_error_for.get(sub.destination)
            or self.faults.cms_error_on.get(n)
            or self.faults.cms_error
        )
        if code is None and self.faults.cms_error_rate and self._rng.random() < self.faults.cms_error_rate:
            code = self._rng.choice(self.faults.cms_error_codes)
        if code:
            return CmsError(code)
        self._mr = (self._mr + 1) % 256
        part = Part(sub.destination, sub.text, self._mr, sub.concat, sub.wants_report)
        self.parts.append(part)
        self._collect(part, sess)
        if sub.wants_report:
            self._plan_report(part)
        return part.mr

    def _collect(self, part: Part, sess: Session) -> None:
        if part.concat is None or part.concat[1] <= 1:
            self._arrived(Received(part.destination, part.text, [part.mr], sess.name))
            return
        ref, total, seq = part.concat
        key = (part.destination, ref, total)
        got = self._partial.setdefault(key, {})
        got[seq] = part
        if len(got) == total:
            del self._partial[key]
            ordered = [got[k] for k in sorted(got)]
            text = "".join(p.text for p in ordered)
            self._arrived(Received(part.destination, text, [p.mr for p in ordered], sess.name))

    def _arrived(self, msg: Received) -> None:
        self.received.append(msg)
        log.info("[%s] SMS to %s: %r", self.name, msg.destination, msg.text)
        if self.on_message is not None:
            self.on_message(msg)
        self._changed.set()

    def _plan_report(self, part: Part) -> None:
        plan = self.reports_for.get(part.destination, self.report)
        if plan.missing:
            return
        sent_at = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        for k in range(1 + plan.duplicates):
            self._later(
                plan.delay + 0.02 * k, self.status_report, part.mr, part.destination, plan.status, sent_at
            )

    def _later(self, delay: float, fn: Callable[..., None], *args: object) -> None:
        def fire() -> None:
            self._timers.discard(handle)
            fn(*args)

        handle = self._loop.call_later(delay, fire)
        self._timers.add(handle)

    def status_report(
        self, mr: int, recipient: str, status: int = 0, sent_at: datetime.datetime | None = None
    ) -> None:
        """Send an SMS-STATUS-REPORT now: +CDS (27.005 §3.4.1, <ds>=1) or stored + +CDSI (<ds>=2)."""
        done = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        tpdu = sms.status_report_pdu(mr, recipient, sent_at or done, done, status)
        self.reports_sent += 1
        for sess in list(self._sessions):
            ds = sess.s.cnmi[3]
            if ds == 1 and sess.s.cmgf == 0:
                sess.urc(f"+CDS: {len(tpdu)}\r\n{(sms.write_smsc(self.smsc) + tpdu).hex().upper()}")
            elif ds == 1:
                scts, dt = sms.text_timestamp(sent_at or done), sms.text_timestamp(done)
                toa = 145 if recipient.startswith("+") else 129
                sess.urc(f'+CDS: 6,{mr},"{recipient}",{toa},"{scts}","{dt}",{status}')
            elif ds == 2:
                index = self._store(recipient, f"status report {status}", done, tpdu)
                if index is not None:
                    sess.urc(f'+CDSI: "SM",{index}')

    # ---- incoming --------------------------------------------------------------------------------
    def deliver(self, sender: str, text: str, *, when: datetime.datetime | None = None) -> None:
        """An SMS arrives from `sender`: routed as +CMT (<mt>=2), or stored with +CMTI (<mt>=1)."""
        when = when or datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        self._deliver_ref = (self._deliver_ref + 1) % 256
        for tpdu in sms.deliver_pdus(sender, text, when, self._deliver_ref):
            routed = [s for s in self._sessions if s.s.cnmi[1] == 2]
            if routed:
                for sess in routed:
                    if sess.s.cmgf == 0:
                        hexpdu = (sms.write_smsc(self.smsc) + tpdu).hex().upper()
                        sess.urc(f"+CMT: ,{len(tpdu)}\r\n{hexpdu}")
                    else:
                        sess.urc(f'+CMT: "{sender}",,"{sms.text_timestamp(when)}"\r\n{text}')
                continue
            index = self._store(sender, text, when, tpdu)
            if index is None:
                log.warning("[%s] storage full: message from %s lost", self.name, sender)
                continue
            for sess in list(self._sessions):
                if sess.s.cnmi[1] in (1, 3):
                    sess.urc(f'+CMTI: "SM",{index}')

    def _store(self, sender: str, text: str, when: datetime.datetime, tpdu: bytes) -> int | None:
        free = [i for i in range(1, self.storage_size + 1) if i not in self.storage]
        if not free:
            return None
        self.storage[free[0]] = Stored(free[0], sender, text, when, tpdu, self.smsc)
        return free[0]

    # ---- waiting (tests) -------------------------------------------------------------------------
    async def wait_received(self, count: int, within: float = 5.0) -> list[Received]:
        """Until `count` whole messages have arrived; then all of them."""
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.received
