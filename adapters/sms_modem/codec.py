"""Sans-I/O AT dialogue with a GSM modem (3GPP TS 27.007 §4-5, TS 27.005 §3-4, ITU-T V.250).

`AtSession` is fed the bytes the modem sends and yields `Response`s (the information lines and
the final result code of the command in progress) and `Urc`s (unsolicited result codes), kept
apart even when a URC arrives in the middle of a command, for example between the `> ` prompt
of +CMGS and its `+CMGS: <mr>` answer. It also writes the PDU after that prompt. It never touches
a port or a clock: the I/O layer owns timeouts and calls `abandon()` when one expires.

The parsers for the answers the channel reads and the classification of `+CMS ERROR` codes are
in `answers.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from adapters.errors import ProtocolError

__all__ = [
    "AtError",
    "AtSession",
    "Event",
    "Final",
    "FinalKind",
    "Prompted",
    "Response",
    "Stray",
    "Urc",
    "final_of",
    "name_and_args",
]

CR, LF, CTRL_Z, ESC = b"\r", b"\n", b"\x1a", b"\x1b"
MAX_LINE = 4096  # a line longer than this is garbage: it is dropped, not buffered forever


class AtError(ProtocolError):
    """An AT answer that does not have the shape the spec gives it, or a misuse of the session."""

    codec = "at"


class FinalKind(StrEnum):
    OK = "OK"
    ERROR = "ERROR"
    CME_ERROR = "+CME ERROR"
    CMS_ERROR = "+CMS ERROR"
    NO_CARRIER = "NO CARRIER"


@dataclass(frozen=True, slots=True)
class Final:
    """A final result code (V.250 §5.7.1; 27.007 §9.2 +CME ERROR; 27.005 §3.2.5 +CMS ERROR)."""

    kind: FinalKind
    code: int | None = None  # numeric error with AT+CMEE=1
    text: str = ""  # the whole line

    @property
    def ok(self) -> bool:
        return self.kind is FinalKind.OK


@dataclass(frozen=True, slots=True)
class Response:
    command: str
    info: tuple[str, ...]
    final: Final


@dataclass(frozen=True, slots=True)
class Urc:
    """An unsolicited result code; `pdu` is the second line of +CMT / +CDS (27.005 §3.4.1)."""

    name: str  # "+CMTI", "+CDS", "RING", "^BOOT", ...
    args: str  # text after "<name>: "
    pdu: str | None = None


@dataclass(frozen=True, slots=True)
class Prompted:
    """The modem gave the `> ` prompt and the session wrote the PDU (27.005 §3.5.1)."""

    command: str


@dataclass(frozen=True, slots=True)
class Stray:
    """A line that belongs to nothing: a late answer to an abandoned command, or noise."""

    line: str


Event = Response | Urc | Prompted | Stray

_FINAL = re.compile(r"^(OK|ERROR|NO CARRIER|\+CME ERROR:\s*(.*)|\+CMS ERROR:\s*(.*))$")
# URCs of 27.005 §3.4.1 / 27.007 (+CREG §7.2, +CGREG §10.1.20, RING §6.2) and common vendor ones.
URC_NAMES = frozenset(
    {"+CMTI", "+CMT", "+CDS", "+CDSI", "+CBM", "+CBMI", "+CREG", "+CGREG", "+CEREG", "+CUSD"}
    | {"RING", "+CRING", "+CLIP", "+CCWA", "+CIEV", "^BOOT", "^RSSI", "^MODE", "^SRVST"}
    | {"RDY", "+CFUN", "+CPIN", "+QIND", "^SYSSTART", "+PBREADY", "SMS DONE", "CALL READY"}
)


def final_of(line: str) -> Final | None:
    """The final result code a line is, if it is one."""
    return _final(line)


def _final(line: str) -> Final | None:
    m = _FINAL.match(line)
    if m is None:
        return None
    if m.group(2) is not None or m.group(3) is not None:
        kind = FinalKind.CME_ERROR if m.group(2) is not None else FinalKind.CMS_ERROR
        arg = (m.group(2) if m.group(2) is not None else m.group(3)).strip()
        return Final(kind, int(arg) if _digits(arg) and len(arg) < 6 else None, line)
    return Final(FinalKind(m.group(1)), None, line)


def _digits(text: str) -> bool:
    """ASCII digits only: `str.isdigit` also accepts superscripts and other scripts' digits that
    `int` refuses (a line is decoded as Latin-1, so b"\\xb9" is "¹"; V.250 §5.7 numbers are 0-9)."""
    return text.isascii() and text.isdigit()


def name_and_args(line: str) -> tuple[str, str]:
    """`+NAME: args` -> ("+NAME", "args"); a line without ":" is all name."""
    name, sep, args = line.partition(":")
    if not sep:
        return line, ""
    return name.strip(), args.strip()


def _has_pdu_line(name: str, args: str) -> bool:
    """+CMT always has a second line (PDU or text); +CDS has one in PDU mode, where its only
    parameter is `<length>` (27.005 §3.4.1)."""
    return name == "+CMT" or (name == "+CDS" and _digits(args))


def _prefixes(command: str) -> frozenset[str]:
    """Information-line prefixes a command answers with: AT+CPIN? -> +CPIN; chained commands
    (`AT+CMEE=1;+CREG?`, V.250 §5.2.1) answer with several."""
    body = command.strip()[2:] if command[:2].upper() == "AT" else command
    names = set()
    for part in body.split(";"):
        m = re.match(r"\s*([+^$%][A-Za-z0-9]+)", part)
        if m:
            names.add(m.group(1).upper())
    return frozenset(names)


class AtSession:
    """One command at a time; bytes in, events and bytes out."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._out = bytearray()
        self._events: list[Event] = []
        self._command: str | None = None
        self._prefixes: frozenset[str] = frozenset()
        self._payload: str | None = None  # PDU (or text) to write at the prompt
        self._prompted = False
        self._info: list[str] = []
        self._urc_head: tuple[str, str] | None = None  # +CMT/+CDS waiting for its PDU line

    # ---- commands ----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._command is not None

    def command(self, text: str, *, payload: str | None = None) -> None:
        """Send `text` (e.g. "AT+CMGS=41"). With `payload`, wait for the `> ` prompt and then
        send the payload and Ctrl-Z (27.005 §3.5.1)."""
        if self._command is not None:
            raise AtError(f"command {self._command!r} still in progress")
        if any(c in text for c in "\r\n\x1a\x1b") or not text.upper().startswith("AT"):
            raise AtError(f"not a single AT command line: {text!r}")
        if payload is not None and any(c in payload for c in "\r\n\x1a\x1b"):
            raise AtError("the payload must not contain CR, LF, Ctrl-Z or ESC")
        self._command, self._payload, self._prompted = text, payload, False
        self._prefixes = _prefixes(text)
        self._info = []
        self._out += text.encode("ascii") + CR

    def abandon(self) -> None:
        """Forget the command in progress (its timeout expired). At a prompt, ESC cancels the
        send (27.005 §3.5.1). Late answers to it will come out as `Stray`."""
        if self._command is not None and self._payload is not None and not self._prompted:
            self._out += ESC
        self._command, self._payload, self._prompted = None, None, False
        self._info = []

    def data_to_send(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    # ---- input -------------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        self._buf += data
        while self._buf:
            if self._at_prompt():
                continue
            cut = min((i for i in (self._buf.find(CR), self._buf.find(LF)) if i >= 0), default=-1)
            if cut < 0:
                if len(self._buf) > MAX_LINE:
                    self._events.append(Stray(self._buf[:80].decode("latin-1") + "..."))
                    self._buf.clear()
                return
            raw = bytes(self._buf[:cut])
            del self._buf[: cut + 1]
            self._line(raw.replace(CTRL_Z, b"").decode("latin-1").strip())

    def events_received(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def _at_prompt(self) -> bool:
        """`> ` has no line end: recognise `>` at the start of a line while a send waits for it
        (as Kannel does), and answer with the payload and Ctrl-Z."""
        if self._payload is None or self._prompted or not self._buf.startswith(b">"):
            return False
        del self._buf[:1]
        if self._buf.startswith(b" "):
            del self._buf[:1]
        self._prompted = True
        assert self._command is not None
        self._out += self._payload.encode("ascii") + CTRL_Z
        self._events.append(Prompted(self._command))
        return True

    def _line(self, line: str) -> None:
        if not line:
            return
        if self._urc_head is not None:
            name, args = self._urc_head
            self._urc_head = None
            self._events.append(Urc(name, args, line))
            return
        if self._command is not None and self._is_echo(line):
            return  # echo (ATE1, V.250 §6.2.4): a modem never answers with the command itself
        final = _final(line)
        if final is not None:
            if self._command is None:
                self._events.append(Stray(line))
                return
            self._events.append(Response(self._command, tuple(self._info), final))
            self._command, self._payload, self._prompted, self._info = None, None, False, []
            return
        name, args = name_and_args(line)
        if _has_pdu_line(name, args) and name not in self._prefixes:
            self._urc_head = (name, args)
            return
        if self._command is None or (name.upper() in URC_NAMES and name.upper() not in self._prefixes):
            self._events.append(Urc(name, args))
            return
        self._info.append(line)

    def _is_echo(self, line: str) -> bool:
        assert self._command is not None
        if line.upper() == self._command.strip().upper():
            return True
        return self._payload is not None and line.upper() == self._payload.upper()
