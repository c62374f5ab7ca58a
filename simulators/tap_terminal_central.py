"""The paging central's side of TAP 1.8, and a Hayes modem in front of it. No I/O, no clock reads:
the simulator's I/O layer (simulators/tap_terminal.py) feeds bytes and times in and sends the
output. Written from the TAP 1.8 specification (§3 call sequence, §5-6 checksum, §7 timers,
Appendix A response codes) and the Hayes command set, independently of callout's adapters.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

STX, ETX, EOT, ACK, NAK, ETB, SUB, ESC, RS, US, CR = 2, 3, 4, 6, 0x15, 0x17, 0x1A, 0x1B, 0x1E, 0x1F, 13
ENDS = (ETX, ETB, US)
MAX_BLOCK = 256


@dataclass
class TerminalConfig:
    """How the simulated paging terminal behaves (what a carrier would configure)."""

    password: str = ""  # "" accepts any logon password
    banner: str = "callout TAP paging terminal simulator"
    id_prompt: str = ""  # text some terminals send before ID=
    id_cr: bool = True  # "ID=<CR>"; False: a bare "ID="
    max_length: int = 240  # characters per message
    length_policy: Literal["reject", "truncate"] = "reject"
    tap18: bool = True  # 214/517 with the maximum (TAP 1.8); False: 212/513
    max_pages: int = 0  # per session; 0: no limit (else 112 and a forced disconnect)
    max_session_time: float = 0.0  # seconds; 0: no limit (else 113)
    input_timeout: float = 30.0  # 501 when the remote says nothing for this long
    logon_tries: int = 3  # wrong passwords before ESC EOT
    checksum_errors: int = 3  # NAKs in a row for one block before 503 and ESC EOT
    pin_pattern: str = r"[0-9A-Za-z]{1,16}"  # else 510
    invalid_ids: set[str] = field(default_factory=set)  # 511 + RS
    busy_ids: set[str] = field(default_factory=set)  # 512 + RS (try later)
    deferred_ids: set[str] = field(default_factory=set)  # 213 + ACK
    numeric_ids: set[str] = field(default_factory=set)  # 505 + RS when the message has letters
    mask_7bit: bool = True


@dataclass
class Faults:
    """Fault injection; may be changed while the simulator runs."""

    silent: bool = False  # answer nothing at all
    corrupt_blocks: int = 0  # the next N received blocks arrive garbled (checksum error → NAK, 514)
    corrupt_probability: float = 0.0
    noise: bool = False  # garbled bytes on the line before every reply
    drop_after_pages: int | None = None  # the line drops when a block arrives after N pages
    silent_after_pages: int | None = None  # goes silent when a block arrives after N pages


@dataclass(frozen=True)
class Page:
    pager_id: str
    text: str
    code: str  # the message sequence the terminal answered (211, 212, 213, 214)
    session: int


@dataclass
class SessionLog:
    number: int
    logged_on: bool = False
    pages: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (pager id, code)
    naks: int = 0
    blocks: int = 0
    ended: str = ""


class Hangup(StrEnum):
    GOODBYE = "goodbye"  # the terminal hung up after its goodbye or a forced disconnect
    DROP = "drop"  # the line dropped (fault injection): no goodbye


def checksum(data: bytes) -> bytes:
    """TAP §5: sum of the 7-bit characters STX through the terminator; 12 bits as 3 chars 0x30+."""
    s = 0
    for b in data:
        s += b & 0x7F
    s &= 0xFFF
    return bytes([0x30 + (s >> 8 & 15), 0x30 + (s >> 4 & 15), 0x30 + (s & 15)])


def _unescape(field_bytes: bytes) -> str:
    out = bytearray()
    i = 0
    while i < len(field_bytes):
        if field_bytes[i] == SUB and i + 1 < len(field_bytes):
            out.append((field_bytes[i + 1] - 0x40) & 0x7F)
            i += 2
        else:
            out.append(field_bytes[i])
            i += 1
    return out.decode("ascii", "replace")


class Central:
    """One call at the paging terminal: ID= prompt, logon, transaction blocks, logoff."""

    def __init__(
        self,
        config: TerminalConfig,
        faults: Faults,
        *,
        open_log: Callable[[], SessionLog],
        on_page: Callable[[Page], None],
        rng: random.Random,
    ) -> None:
        self.config = config
        self.faults = faults
        self._open_log = open_log
        self._on_page = on_page
        self._rng = rng
        self.log: SessionLog | None = None
        self.output: list[bytes] = []
        self.hangup: Hangup | None = None
        self.deadline: float | None = None
        self._state = "wait_cr"
        self._buf = bytearray()
        self._partial: list[bytes] = []  # data of the blocks of the transaction so far
        self._naks = 0
        self._bad_logons = 0
        self._started = 0.0
        self._last_rx = 0.0
        self._mute = False

    # ---- I/O side -----------------------------------------------------------------------------
    def take_output(self) -> list[bytes]:
        out, self.output = self.output, []
        return out

    def feed(self, data: bytes, now: float) -> None:
        if self.hangup is not None or self.faults.silent or self._mute:
            return
        if self.config.mask_7bit:
            data = bytes(b & 0x7F for b in data)
        self._last_rx = now
        self._buf += data
        while self.hangup is None and self._step(now):
            pass
        self._rearm()

    def tick(self, now: float) -> None:
        if self.hangup is not None or self.faults.silent or self._mute:
            self.deadline = None  # a silent terminal does not time out either
            return
        if self.deadline is None or now < self.deadline:
            return
        c = self.config
        if c.max_session_time and self._state == "ready" and now - self._started >= c.max_session_time:
            self._end("113 Maximum time reached for session", Hangup.GOODBYE)
        elif self._state != "wait_cr" and c.input_timeout and now - self._last_rx >= c.input_timeout:
            self._end("501 Time-out occurred waiting for user input", Hangup.GOODBYE)
        else:
            self._rearm()

    # ---- protocol -----------------------------------------------------------------------------
    def _step(self, now: float) -> bool:
        """Handle one unit of buffered input; False when more input is needed."""
        if self._state == "wait_cr":
            return self._wait_cr(now)
        if self._state == "logon":
            return self._logon_line(now)
        return self._ready_input()

    def _wait_cr(self, now: float) -> bool:
        i = self._buf.find(b"\r")
        if i < 0:
            self._buf.clear()
            return False
        del self._buf[: i + 1]
        if self.log is None:
            self.log = self._open_log()
            self._started = now
        self._state = "logon"
        self._prompt()
        return True

    def _prompt(self) -> None:
        c = self.config
        self._send(
            (c.id_prompt.encode() + b"\r" if c.id_prompt else b"") + b"ID=" + (b"\r" if c.id_cr else b"")
        )

    def _logon_line(self, now: float) -> bool:
        i = self._buf.find(b"\r")
        if i < 0:
            return False
        line = bytes(self._buf[:i])
        del self._buf[: i + 1]
        if not line:  # the remote's repeated wake-up CRs: prompt again
            self._prompt()
            return True
        esc = line.find(b"\x1b")
        if esc < 0:
            if line.strip() == b"M":
                self._end("508 Invalid logon: manual mode not supported", Hangup.GOODBYE)
            return True  # noise before the logon
        m = re.fullmatch(rb"([A-Z]{2})([0-9])([A-Za-z0-9]*)", line[esc + 1 :])
        if m is None:
            self._send(b"507 Invalid logon: incorrectly formed login sequence\r\x15\r")
            return True
        service, category, password = m.group(1), m.group(2), m.group(3).decode()
        if service != b"PG" or category not in b"1789":
            self._end("508 Invalid logon: service type and category not supported", Hangup.GOODBYE)
            return True
        if self.config.password and password != self.config.password:
            self._bad_logons += 1
            if self._bad_logons >= self.config.logon_tries:
                self._end("509 Invalid logon: invalid password supplied", Hangup.GOODBYE)
            else:
                self._send(b"509 Invalid logon: invalid password supplied\r\x15\r")
            return True
        assert self.log is not None
        self.log.logged_on = True
        self._started = now
        self._state = "ready"
        self._send(b"110 1.8\r114 " + self.config.banner.encode() + b"\r\x06\r")
        self._send(b"\x1b[p\r")  # go-ahead
        return True

    def _ready_input(self) -> bool:
        buf = self._buf
        while buf and buf[0] != STX:
            if buf[0] == EOT:
                del buf[0]
                self._logoff()
                return False
            del buf[0]  # CR, LF and noise between blocks
        if not buf:
            return False
        ends = [i for i, b in enumerate(buf) if b in ENDS]
        restart = buf.find(bytes([STX]), 1)
        if restart > 0 and (not ends or restart < ends[0]):
            del buf[:restart]  # a new block began before this one ended: start over
            return True
        if not ends:
            if len(buf) > MAX_BLOCK + 64:
                buf.clear()
                self._reject("515 Message format error: block too long")
            return False
        end = ends[0]
        if len(buf) < end + 5:
            return False
        raw = bytes(buf[: end + 5])
        del buf[: end + 5]
        self._block(raw)
        return True

    def _block(self, raw: bytes) -> None:
        log = self.log
        assert log is not None
        f = self.faults
        pages = log.pages
        if not self._partial and f.drop_after_pages is not None and pages >= f.drop_after_pages:
            self.hangup = Hangup.DROP
            log.ended = "line dropped (fault)"
            return
        if not self._partial and f.silent_after_pages is not None and pages >= f.silent_after_pages:
            self._mute = True
            return
        if not self._partial and self.config.max_pages and pages >= self.config.max_pages:
            self._end("112 Maximum pages entered for session", Hangup.GOODBYE)
            return
        log.blocks += 1
        if f.corrupt_blocks > 0 or (f.corrupt_probability and self._rng.random() < f.corrupt_probability):
            f.corrupt_blocks = max(0, f.corrupt_blocks - 1)
            i = self._rng.randrange(1, len(raw) - 5) if len(raw) > 6 else 1
            raw = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]
        if len(raw) > MAX_BLOCK:
            self._reject("515 Message format error: block longer than 256 characters")
            return
        body, check, cr = raw[:-4], raw[-4:-1], raw[-1]
        if cr != CR or checksum(body) != check:
            self._naks += 1
            log.naks += 1
            if self._naks > self.config.checksum_errors:
                self._end("503 Excessive attempts to send a transaction with checksum errors", Hangup.GOODBYE)
            else:
                self._send(b"514 Checksum error\r\x15\r")
            return
        self._naks = 0
        self._partial.append(body[1:-1])
        if body[-1] != ETX:  # ETB, or US where ETB was meant: both continue
            self._send(b"\x06\r")
            return
        data = b"".join(self._partial)
        self._partial = []
        self._transaction(data)

    def _transaction(self, data: bytes) -> None:
        c = self.config
        log = self.log
        assert log is not None
        if data.endswith(b"\r"):
            data = data[:-1]
        fields = [_unescape(f) for f in data.split(b"\r")]
        pin, text = fields[0], "\n".join(fields[1:])
        if not re.fullmatch(c.pin_pattern, pin):
            self._reject("510 Illegal pager ID", pin)
        elif pin in c.invalid_ids:
            self._reject("511 Invalid pager ID", pin)
        elif pin in c.busy_ids:
            self._reject("512 Temporarily cannot deliver to pager ID - try later", pin)
        elif pin in c.numeric_ids and not re.fullmatch(r"[0-9 *#\-]*", text):
            self._reject("505 Alphabetic characters not allowed for a numeric pager", pin)
        elif len(text) > c.max_length and c.length_policy == "reject":
            if c.tap18:
                self._reject(f"517 Character maximum {c.max_length}, message rejected", pin)
            else:
                self._reject("513 Long message rejected for exceeding maximum length", pin)
        else:
            if len(text) > c.max_length:
                text = text[: c.max_length]
                line = (
                    f"214 Character maximum {c.max_length}, message truncated and sent"
                    if c.tap18
                    else "212 Long message truncated and sent"
                )
            elif pin in c.deferred_ids:
                line = "213 Message accepted - held for deferred delivery"
            else:
                line = "211 Page(s) Sent Successfully"
            log.pages += 1
            self._on_page(Page(pin, text, line[:3], log.number))
            self._send(line.encode() + b"\r\x06\r")

    def _reject(self, line: str, pin: str = "") -> None:
        self._partial = []
        if self.log is not None:
            self.log.rejected.append((pin, line[:3]))
        self._send(line.encode() + b"\r\x1e\r")

    def _logoff(self) -> None:
        self._end("115 Goodbye", Hangup.GOODBYE)

    def _end(self, line: str, how: Hangup) -> None:
        self._send(line.encode() + b"\r\x1b\x04\r")
        self.hangup = how
        if self.log is not None:
            self.log.ended = line

    def _send(self, data: bytes) -> None:
        if self.faults.noise:
            junk = bytes(self._rng.choice(b"#%&*+<>?@^~|") for _ in range(self._rng.randint(1, 6)))
            self.output.append(junk + b"\r")
        self.output.append(data)

    def _rearm(self) -> None:
        c = self.config
        deadlines = []
        if self._state != "wait_cr" and c.input_timeout:
            deadlines.append(self._last_rx + c.input_timeout)
        if self._state == "ready" and c.max_session_time:
            deadlines.append(self._started + c.max_session_time)
        self.deadline = min(deadlines) if deadlines else None


CallFactory = Callable[[float], Central]


class Line:
    """A line straight into the terminal (a null-modem cable, or a TCP socket). `ended` tells
    the I/O layer to hang up: close the socket, or (for a pty) drop and recreate it."""

    def __init__(self, make_call: CallFactory, *, persistent: bool) -> None:
        self._make = make_call
        self._persistent = persistent
        self.call = make_call(0.0)
        self.ended: Hangup | None = None

    @property
    def deadline(self) -> float | None:
        return self.call.deadline

    def feed(self, data: bytes, now: float) -> None:
        self.call.feed(data, now)
        self._after(now)

    def tick(self, now: float) -> None:
        self.call.tick(now)
        self._after(now)

    def take_output(self) -> list[bytes]:
        return self.call.take_output()

    def _after(self, now: float) -> None:
        if self.call.hangup is None:
            return
        if self.call.hangup is Hangup.DROP or not self._persistent:
            self.ended = self.call.hangup
            return
        # a cable has no hang-up: the terminal waits for the next CR on the same line
        pending = self.call.take_output()
        self.call = self._make(now)
        self.call.output = pending


class Modem:
    """A Hayes modem answering for the terminal: AT commands in command mode, ATD "dials" the
    terminal (CONNECT after `connect_delay`), "+++" with guard times escapes to command mode,
    ATH hangs up, and the terminal's hang-up shows as NO CARRIER."""

    def __init__(
        self,
        make_call: CallFactory,
        *,
        baud: int | None,
        connect_delay: float = 0.2,
        dial_result: str = "CONNECT",
        guard_time: float = 1.0,
    ) -> None:
        self._make = make_call
        self._baud = baud
        self.connect_delay = connect_delay
        self.dial_result = dial_result
        self.guard_time = guard_time
        self.ended: Hangup | None = None  # a modem never closes the port
        self.call: Central | None = None
        self.mode = "command"  # command | dialing | online | online_command
        self.echo = True
        self.dialled: list[str] = []
        self._cmd = bytearray()
        self._out: list[bytes] = []
        self._dial_at = 0.0
        self._last_rx = float("-inf")
        self._escape_at: float | None = None

    @property
    def deadline(self) -> float | None:
        times = [t for t in (self._escape_at, self.call.deadline if self.call else None) if t is not None]
        if self.mode == "dialing":
            times.append(self._dial_at)
        return min(times) if times else None

    def take_output(self) -> list[bytes]:
        out = self._out
        if self.call is not None:
            out += self.call.take_output()
        self._out = []
        return out

    def feed(self, data: bytes, now: float) -> None:
        quiet = now - self._last_rx
        self._last_rx = now
        if self.mode == "online":
            if data == b"+++" and quiet >= self.guard_time:
                self._escape_at = now + self.guard_time
                return
            if self._escape_at is not None:  # "+++" was data after all
                self._escape_at = None
                data = b"+++" + data
            assert self.call is not None
            self.call.feed(data, now)
            self._check_call()
            return
        echo = bytearray()
        for b in data:
            if self.mode == "dialing":  # anything typed while dialling is ignored
                break
            if self.echo:
                echo.append(b)
            if b == CR:
                if echo:
                    self._out.append(bytes(echo))
                    echo.clear()
                self._command(self._cmd.decode("ascii", "replace").strip().upper(), now)
                self._cmd.clear()
            elif b != 10:
                self._cmd.append(b & 0x7F)
        if echo:
            self._out.append(bytes(echo))

    def tick(self, now: float) -> None:
        if self._escape_at is not None and now >= self._escape_at:
            self._escape_at = None
            self.mode = "online_command"
            self._result("OK")
        if self.mode == "dialing" and now >= self._dial_at:
            if self.dial_result == "CONNECT":
                self.mode = "online"
                self.call = self._make(now)
                self._result(f"CONNECT {self._baud}" if self._baud else "CONNECT")
            else:
                self.mode = "command"
                self._result(self.dial_result)
        if self.call is not None and self.mode == "online":
            self.call.tick(now)
            self._check_call()

    def _check_call(self) -> None:
        if self.call is not None and self.call.hangup is not None:
            self._out += self.call.take_output()
            self.call = None
            self.mode = "command"
            self._result("NO CARRIER")

    def _command(self, line: str, now: float) -> None:
        if not line.startswith("AT"):
            return
        body = line[2:]
        if body.startswith("D"):
            self.dialled.append(body.lstrip("DTP"))
            self.mode = "dialing"
            self._dial_at = now + self.connect_delay
            return
        if body.startswith("H"):
            self.call = None
            self.mode = "command"
        elif body.startswith("O") and self.mode == "online_command" and self.call is not None:
            self.mode = "online"
            self._result("CONNECT")
            return
        for m in re.finditer(r"E(\d?)|Z", body):
            self.echo = m.group(0) == "Z" or m.group(1) != "0"
        self._result("OK")

    def _result(self, text: str) -> None:
        self._out.append(b"\r\n" + text.encode() + b"\r\n")
