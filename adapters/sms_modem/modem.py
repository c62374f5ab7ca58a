"""I/O of one GSM modem: its port (serial device or TCP, adapters/transport.py), the AT session,
start-up checks, polling, incoming messages and status reports. `Modem.run()` is the modem's whole life: open,
check, serve, and when it fails (no answer, port lost, benched by the pool) close, wait, reopen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import termios
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from adapters.errors import CalloutError, ProtocolError
from adapters.sms_modem import answers, codec
from adapters.sms_modem.alphabet import PduError
from adapters.sms_modem.codec import AtError, AtSession, Prompted, Response, Stray, Urc
from adapters.sms_modem.options import ModemOptions, Options
from adapters.sms_modem.pdu import Deliver, StatusReport, SubmitPart, decode_any
from adapters.sms_modem.pdu_fields import split_smsc
from adapters.transport import NoSerialLibrary, open_line

log = logging.getLogger(__name__)
ESC = b"\x1b"
# Boot announcements of common modems: the modem restarted and forgot ATE0, CMGF and CNMI.
RESTART_URCS = frozenset({"RDY", "^SYSSTART", "+PBREADY"})
# 27.007 §9.2.1 +CME ERROR codes an AT+CPIN? may answer with.
CME_SIM = {10: "SIM not inserted", 11: "SIM PIN required", 12: "SIM PUK required", 13: "SIM failure"}
CME_SIM |= {14: "SIM busy", 15: "SIM wrong"}


class ModemState(StrEnum):
    STARTING = "starting"
    READY = "ready"  # answering, SIM ready, registered: takes sends
    NOT_READY = "not ready"  # answering, but SIM or registration is not there (polled)
    BENCHED = "benched"  # failed; the port is closed and reopened later


class ModemFault(CalloutError):
    """The modem must be closed and reopened (after a back-off)."""

    def __init__(self, reason: str, *, silent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.silent = silent  # it stopped answering: reset it when reopened


class CommandFailed(CalloutError):
    """The modem answered a command with an error result code."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"{response.command}: {response.final.text}")
        self.response = response


Sink = Callable[["Modem", Deliver | StatusReport], None]
Listener = Callable[["Modem"], None]


async def open_port(options: ModemOptions) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The modem's line (adapters/transport.py): `tcp://host:port` or a serial device."""
    try:
        return await open_line(options.line)
    except (OSError, ValueError, termios.error) as exc:  # serial.SerialException is an OSError
        if isinstance(exc, NoSerialLibrary):
            raise ModemFault(str(exc)) from exc
        raise ModemFault(f"cannot open {options.device}: {exc}") from exc


def why(exc: Exception) -> str:
    """What went wrong in words, for reasons and health: a codec error without its codec prefix."""
    return exc.problem if isinstance(exc, ProtocolError) else str(exc)


class Modem:
    def __init__(
        self, *, channel: str, options: ModemOptions, timing: Options, sink: Sink, on_change: Listener
    ) -> None:
        self.name = options.name
        self.options = options
        self.timing = timing
        self.label = f"sms_modem.{channel}.{self.name}"
        self._sink = sink
        self._on_change = on_change
        self.state = ModemState.STARTING
        self.reason = "starting"
        self.rssi: int | None = None
        self.busy = False  # a send holds it (the pool sets this)
        self.failures = 0  # consecutive temporary send failures (the pool counts)
        self.sent = 0
        self.resets = 0
        self._concat_ref = 0
        self._pin_rejected = False
        self._configured = False
        self._session = AtSession()
        self._writer: asyncio.StreamWriter | None = None
        self._waiter: asyncio.Future[Response] | None = None
        self._lock = asyncio.Lock()
        self._fault: asyncio.Future[None] | None = None
        self._inbox: asyncio.Queue[int] = asyncio.Queue()
        self._recheck = asyncio.Event()
        self._abandoned = False  # a command was given up on; its answer may still come
        self._stale = asyncio.Event()
        self._was_ready = False  # this session reached READY

    # ---- life ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Open, check and serve; on failure close, wait (capped exponential) and reopen. Forever."""
        opens, silent = 0, False
        while True:
            self._was_ready = False
            try:
                await self._serve(reset=silent)
                reason, silent = "stopped", False
            except ModemFault as exc:
                reason, silent = exc.reason, exc.silent
            except Exception as exc:  # a bug must not take the pool down: bench and reopen
                log.exception("%s: unexpected error", self.label)
                reason, silent = f"internal error: {exc!r}", False
            opens = 1 if self._was_ready else opens + 1  # back-off grows only while it never works
            self._set(ModemState.BENCHED, reason)
            delay = min(self.timing.retry_cap, self.timing.retry_base * 2 ** max(0, opens - 1))
            log.warning("%s: benched (%s); reopening in %.1fs", self.label, reason, delay)
            await asyncio.sleep(delay)

    def bench(self, reason: str) -> None:
        """Take the modem out of service now; `run` reopens and rechecks it after a back-off."""
        self._fail(ModemFault(reason))

    async def _serve(self, *, reset: bool) -> None:
        reader, writer = await open_port(self.options)
        loop = asyncio.get_running_loop()
        self._session, self._writer, self._configured = AtSession(), writer, False
        self._abandoned = False
        self._fault = loop.create_future()
        self._inbox = asyncio.Queue()
        fault: ModemFault | None = None
        try:
            async with asyncio.TaskGroup() as tg:
                loops = [tg.create_task(self._read(reader), name=f"{self.label}.read")]
                try:
                    await self._start_up(reset=reset)
                    loops.append(tg.create_task(self._guard(self._poll()), name=f"{self.label}.poll"))
                    loops.append(tg.create_task(self._guard(self._read_inbox()), name=f"{self.label}.inbox"))
                    await self._fault  # raises the ModemFault that ends this session
                except ModemFault as exc:
                    # Caught inside the group: a body exception would come out as an ExceptionGroup.
                    fault = exc
                    self._fail(exc)
                for task in loops:
                    task.cancel()
        finally:
            self._fail(ModemFault("port closed"))  # releases a send waiting on this session
            self._writer = None
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
        if fault is not None:
            raise fault

    async def _guard(self, job: Any) -> None:
        """Children end quietly on a fault (it is already recorded) and never raise into the group."""
        try:
            await job
        except ModemFault:
            pass
        except Exception as exc:
            log.exception("%s: loop failed", self.label)
            self._fail(ModemFault(f"internal error: {exc!r}"))

    def _fail(self, fault: ModemFault) -> None:
        if self._fault is not None and not self._fault.done():
            self._fault.set_exception(fault)
            self._fault.exception()  # retrieved here, raised by `_serve`
            self._set(ModemState.BENCHED, fault.reason)  # out of the pool at once
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(fault)  # the command in progress ends now, not at its timeout
            self._waiter.exception()

    def _set(self, state: ModemState, reason: str) -> None:
        self._was_ready = self._was_ready or state is ModemState.READY
        if (state, reason) != (self.state, self.reason):
            self.state, self.reason = state, reason
            self._on_change(self)

    # ---- bytes ---------------------------------------------------------------------------------
    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    self._fail(ModemFault("port closed"))
                    return
                self._session.receive_data(data)
                self._flush()
                for event in self._session.events_received():
                    self._dispatch(event)
        except OSError as exc:
            self._fail(ModemFault(f"port error: {exc}"))
        except Exception as exc:
            log.exception("%s: reader failed", self.label)
            self._fail(ModemFault(f"internal error: {exc!r}"))

    def _flush(self) -> None:
        data = self._session.data_to_send()
        if data and self._writer is not None:
            self._writer.write(data)

    def _dispatch(self, event: codec.Event) -> None:
        if isinstance(event, Response):
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(event)
        elif isinstance(event, Urc):
            self._on_urc(event)
        elif isinstance(event, Stray):
            log.debug("%s: stray line %r", self.label, event.line)
            if codec.final_of(event.line) is not None:
                self._stale.set()  # the late end of an abandoned command
        elif isinstance(event, Prompted):
            log.debug("%s: prompt for %s", self.label, event.command)

    # ---- commands ------------------------------------------------------------------------------
    async def command(
        self, text: str, *, payload: str | None = None, wait: float | None = None, fatal: bool = True
    ) -> Response:
        """One command and its answer. No answer in time is a fault of the modem (`fatal`), which
        ends this session; with fatal=False (probing) it only raises ModemFault."""
        async with self._lock:
            if self._fault is None or self._fault.done() or self._writer is None:
                raise ModemFault("modem not open")
            limit = wait or self.timing.command_timeout
            if self._abandoned:
                await self._drain(self.timing.send_timeout if fatal else limit, fatal=fatal)
            try:
                self._session.command(text, payload=payload)
            except AtError as exc:
                raise ModemFault(f"cannot send {text!r}: {why(exc)}") from exc
            self._waiter = asyncio.get_running_loop().create_future()
            self._flush()
            try:
                async with asyncio.timeout(limit):
                    return await self._waiter
            except TimeoutError:
                self._abandon()
                name = text.split("=", maxsplit=1)[0]
                fault = ModemFault(f"no answer to {name} within {limit:g}s", silent=True)
                if fatal:
                    self._fail(fault)
                raise fault from None
            except asyncio.CancelledError:
                self._abandon()  # the caller gave up (e.g. the engine's send timeout)
                raise
            finally:
                self._waiter = None

    def _abandon(self) -> None:
        """Forget the command in progress; its late answer must be let through before the next
        command, or that command would take it for its own (V.250 has no command tags)."""
        self._session.abandon()
        self._flush()
        self._abandoned = True
        self._stale.clear()

    async def _drain(self, limit: float, *, fatal: bool) -> None:
        """Wait for the final result code of an abandoned command (it comes out as a stray line)."""
        try:
            async with asyncio.timeout(limit):
                await self._stale.wait()
        except TimeoutError:
            if fatal:
                fault = ModemFault("no answer to an abandoned command", silent=True)
                self._fail(fault)
                raise fault from None
        self._abandoned = False

    async def _ok(self, text: str) -> Response:
        resp = await self.command(text)
        if not resp.final.ok:
            raise CommandFailed(resp)
        return resp

    # ---- start-up and health (27.007 §8.3 +CPIN, §7.2 +CREG, §8.5 +CSQ; 27.005 §3.2.3 +CMGF) -----
    async def _start_up(self, *, reset: bool) -> None:
        self._set(ModemState.STARTING, "start-up checks")
        assert self._writer is not None
        self._writer.write(ESC)  # leave a half-finished `> ` prompt (27.005 §3.5.1)
        if reset:
            self.resets += 1
            log.info("%s: resetting with %s", self.label, self.options.reset_command)
            with contextlib.suppress(ModemFault):
                await self.command(self.options.reset_command, fatal=False)
        await self._probe()
        try:
            await self._ok("ATE0")  # V.250 §6.2.4: no echo
            await self._ok("AT+CMEE=1")  # 27.007 §9.1: numeric +CME / +CMS ERROR
            await self._check()
        except (CommandFailed, AtError) as exc:
            raise ModemFault(f"start-up failed: {why(exc)}") from exc

    async def _probe(self) -> None:
        """`AT` until the modem answers OK, for up to `reset_wait` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timing.reset_wait
        while True:
            try:
                if (await self.command("AT", wait=self.timing.probe_timeout, fatal=False)).final.ok:
                    return
            except ModemFault:
                pass
            if loop.time() >= deadline:
                raise ModemFault(f"no answer to AT within {self.timing.reset_wait:g}s", silent=True)
            await asyncio.sleep(min(self.timing.probe_timeout, max(0.0, deadline - loop.time())))

    async def _check(self) -> None:
        """SIM, registration, signal; then PDU mode and indications once the SIM is ready."""
        sim = await self._sim()
        if sim != "READY":
            self._configured = False
            self._set(ModemState.NOT_READY, f"SIM: {sim}")
            return
        stat = answers.parse_creg((await self._ok("AT+CREG?")).info)
        domain = "CS"
        if stat not in answers.REGISTERED:
            # SMS can also go over the packet domain (27.005 §3.2.4 +CGSMS): +CGREG (27.007 §10.1.20).
            with contextlib.suppress(CommandFailed, AtError):
                ps = answers.parse_creg((await self._ok("AT+CGREG?")).info, "+CGREG")
                if ps in answers.REGISTERED:
                    stat, domain = ps, "PS"
        with contextlib.suppress(CommandFailed, AtError):
            self.rssi = answers.parse_csq((await self._ok("AT+CSQ")).info)[0]
        if not self._configured:
            await self._ok("AT+CMGF=0")  # 27.005 §3.2.3: PDU mode
            await self._ok(f"AT+CNMI={self.options.cnmi}")  # 27.005 §3.4.1: +CMTI and +CDS
            self._configured = True
            await self._read_stored()
        if stat not in answers.REGISTERED:
            self._set(ModemState.NOT_READY, f"not registered: {answers.CREG_STAT.get(stat, stat)}")
            return
        dbm = answers.rssi_dbm(self.rssi) if self.rssi is not None else None
        where = answers.REGISTERED[stat] + (", packet domain" if domain == "PS" else "")
        self._set(ModemState.READY, f"registered ({where}, signal {dbm} dBm)")

    async def _sim(self) -> str:
        resp = await self.command("AT+CPIN?")
        if resp.final.kind is codec.FinalKind.CME_ERROR and resp.final.code in CME_SIM:
            return CME_SIM[resp.final.code].removeprefix("SIM ").upper()
        if not resp.final.ok:
            raise CommandFailed(resp)
        sim = answers.parse_cpin(resp.info)
        if sim == "SIM PIN" and self.options.pin and not self._pin_rejected:
            entered = await self.command(f'AT+CPIN="{self.options.pin}"')
            if not entered.final.ok:
                self._pin_rejected = True  # never again: three wrong PINs lock the SIM
                return f"PIN rejected ({entered.final.text})"
            sim = answers.parse_cpin((await self._ok("AT+CPIN?")).info)
        return sim

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.timing.poll_interval):
                    await self._recheck.wait()
            self._recheck.clear()
            try:
                await self._check()
            except (CommandFailed, AtError) as exc:
                self._set(ModemState.NOT_READY, f"check failed: {why(exc)}")

    # ---- incoming (27.005 §3.4.1 +CMTI/+CMT/+CDS, §3.4.3 +CMGR, §3.5.4 +CMGD) ------------------
    def _on_urc(self, urc: Urc) -> None:
        try:
            if urc.name in ("+CMTI", "+CDSI"):
                self._inbox.put_nowait(answers.parse_cmti(urc.args)[1])
            elif urc.name in ("+CMT", "+CDS") and urc.pdu is not None:
                self._deliver(answers.parse_cmt(urc.args), urc.pdu)
            elif urc.name in ("+CREG", "+CGREG"):
                self._recheck.set()
            elif urc.name.upper() in RESTART_URCS:
                log.info("%s: modem restarted (%s); setting it up again", self.label, urc.name)
                self._fail(ModemFault(f"modem restarted ({urc.name})"))
            else:
                log.debug("%s: URC %s %s", self.label, urc.name, urc.args)
        except (AtError, PduError) as exc:
            log.warning("%s: unreadable %s: %s", self.label, urc.name, exc)

    def _deliver(self, length: int, pdu_hex: str) -> None:
        try:
            data = bytes.fromhex(pdu_hex)
        except ValueError as exc:
            raise PduError(f"PDU is not hex: {exc}") from exc
        _smsc, tpdu = split_smsc(data, length)
        self._sink(self, decode_any(tpdu))

    async def _read_stored(self) -> None:
        """Messages that arrived while we were away: list all, hand over received ones, delete."""
        resp = await self.command("AT+CMGL=4")
        if not resp.final.ok:
            return
        for index, stat, length, pdu_hex in answers.parse_cmgl(resp.info):
            if stat in (0, 1):  # REC UNREAD, REC READ
                self._take(index, length, pdu_hex)
                await self.command(f"AT+CMGD={index}")

    async def _read_inbox(self) -> None:
        while True:
            index = await self._inbox.get()
            resp = await self.command(f"AT+CMGR={index}")
            if resp.final.ok:
                with contextlib.suppress(AtError):
                    _stat, length, pdu_hex = answers.parse_cmgr(resp.info)
                    self._take(index, length, pdu_hex)
            await self.command(f"AT+CMGD={index}")

    def _take(self, index: int, length: int, pdu_hex: str) -> None:
        try:
            self._deliver(length, pdu_hex)
        except PduError as exc:
            log.warning("%s: unreadable stored message %d: %s", self.label, index, exc)

    # ---- sending (27.005 §3.5.1 +CMGS) ---------------------------------------------------------
    def next_concat_ref(self) -> int:
        self._concat_ref = (self._concat_ref + 1) % 256
        return self._concat_ref

    async def submit(self, part: SubmitPart) -> Response:
        """One SMS-SUBMIT in PDU mode. No answer in time is a ModemFault."""
        return await self.command(
            f"AT+CMGS={part.length}", payload=part.hex(self.options.smsc), wait=self.timing.send_timeout
        )
