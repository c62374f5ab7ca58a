"""Sans-I/O AT dialogue with a GSM modem (3GPP TS 27.007 §4-5, TS 27.005 §3-4, ITU-T V.250).

`AtSession` is fed the bytes the modem sends and yields `Response`s (the information lines and
the final result code of the command in progress) and `Urc`s (unsolicited result codes), kept
apart even when a URC arrives in the middle of a command, for example between the `> ` prompt
of +CMGS and its `+CMGS: <mr>` answer. It also writes the PDU after that prompt. It never touches
a port or a clock: the I/O layer owns timeouts and calls `abandon()` when one expires.

Below it: parsers for the answers the channel reads (+CMGS, +CPIN, +CREG, +CSQ, +CMGR, +CMGL,
+CMTI, +CDS) and the classification of `+CMS ERROR` codes (27.005 §3.2.5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AtError",
    "AtSession",
    "CmsVerdict",
    "Final",
    "FinalKind",
    "Prompted",
    "Response",
    "Stray",
    "Urc",
    "classify_cms",
    "final_of",
    "parse_cmgl",
    "parse_cmgr",
    "parse_cmgs",
    "parse_cmti",
    "parse_cpin",
    "parse_creg",
    "parse_csq",
]

CR, LF, CTRL_Z, ESC = b"\r", b"\n", b"\x1a", b"\x1b"
MAX_LINE = 4096  # a line longer than this is garbage: it is dropped, not buffered forever


class AtError(ValueError):
    """An answer that does not have the shape the spec gives it, or a misuse of the session."""


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
        return Final(kind, int(arg) if arg.isdigit() and len(arg) < 6 else None, line)
    return Final(FinalKind(m.group(1)), None, line)


def _name_args(line: str) -> tuple[str, str]:
    name, sep, args = line.partition(":")
    if not sep:
        return line, ""
    return name.strip(), args.strip()


def _has_pdu_line(name: str, args: str) -> bool:
    """+CMT always has a second line (PDU or text); +CDS has one in PDU mode, where its only
    parameter is `<length>` (27.005 §3.4.1)."""
    return name == "+CMT" or (name == "+CDS" and args.isdigit())


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
        name, args = _name_args(line)
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


# ---- answers (27.007 / 27.005) --------------------------------------------------------------------
def _args(info: tuple[str, ...] | list[str], prefix: str) -> list[str]:
    for line in info:
        name, args = _name_args(line)
        if name.upper() == prefix:
            return [a.strip().strip('"') for a in _split_args(args)]
    raise AtError(f"no {prefix} line in {list(info)!r}")


def _split_args(args: str) -> list[str]:
    """Comma-separated parameters; commas inside quotes do not split (V.250 §5.4.2.2)."""
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in args:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _int(value: str, what: str) -> int:
    if not value.strip().isdigit() or len(value.strip()) > 9:
        raise AtError(f"{what} is not a number: {value!r}")
    return int(value)


def parse_cmgs(info: tuple[str, ...]) -> int:
    """`+CMGS: <mr>[,<scts>]` (27.005 §3.5.1) -> TP-MR."""
    mr = _int(_args(info, "+CMGS")[0], "+CMGS <mr>")
    if mr > 255:
        raise AtError(f"+CMGS <mr> {mr} is not 0-255")
    return mr


def parse_cpin(info: tuple[str, ...]) -> str:
    """`+CPIN: <code>` (27.007 §8.3): READY, SIM PIN, SIM PUK, ..."""
    return _args(info, "+CPIN")[0].upper()


def parse_creg(info: tuple[str, ...], prefix: str = "+CREG") -> int:
    """`+CREG: <n>,<stat>[,<lac>,<ci>...]` (27.007 §7.2) -> <stat>."""
    args = _args(info, prefix)
    if len(args) < 2:
        raise AtError(f"{prefix} answer without <stat>: {info!r}")
    return _int(args[1], f"{prefix} <stat>")


REGISTERED = {1: "home network", 5: "roaming"}
CREG_STAT = {0: "not registered, not searching", 2: "not registered, searching", 3: "registration denied"}
CREG_STAT |= {4: "registration state unknown"} | REGISTERED


def parse_csq(info: tuple[str, ...]) -> tuple[int, int]:
    """`+CSQ: <rssi>,<ber>` (27.007 §8.5)."""
    args = _args(info, "+CSQ")
    if len(args) != 2:
        raise AtError(f"bad +CSQ answer: {info!r}")
    return _int(args[0], "<rssi>"), _int(args[1], "<ber>")


def rssi_dbm(rssi: int) -> int | None:
    """27.007 §8.5: 0 is -113 dBm or less, 31 is -51 dBm or more, 99 unknown."""
    return None if not 0 <= rssi <= 31 else -113 + 2 * rssi


def parse_cmti(args: str) -> tuple[str, int]:
    """`+CMTI: <mem>,<index>` (27.005 §3.4.1), also +CDSI."""
    parts = [a.strip().strip('"') for a in _split_args(args)]
    if len(parts) != 2:
        raise AtError(f"bad +CMTI: {args!r}")
    return parts[0], _int(parts[1], "<index>")


def parse_cmgr(info: tuple[str, ...]) -> tuple[int, int, str]:
    """PDU mode `+CMGR: <stat>,[<alpha>],<length>` then the PDU line (27.005 §3.4.3)."""
    for i, line in enumerate(info):
        name, args = _name_args(line)
        if name.upper() == "+CMGR":
            parts = _split_args(args)
            if len(parts) < 2 or i + 1 >= len(info):
                raise AtError(f"bad +CMGR answer: {info!r}")
            return _int(parts[0], "<stat>"), _int(parts[-1], "<length>"), info[i + 1]
    raise AtError(f"no +CMGR line in {list(info)!r}")


def parse_cmgl(info: tuple[str, ...]) -> list[tuple[int, int, int, str]]:
    """PDU mode `+CMGL: <index>,<stat>,[<alpha>],<length>` + PDU line, repeated (27.005 §3.4.2)."""
    out = []
    lines = list(info)
    while lines:
        name, args = _name_args(lines.pop(0))
        if name.upper() != "+CMGL":
            continue
        parts = _split_args(args)
        if len(parts) < 3 or not lines:
            raise AtError(f"bad +CMGL entry: {args!r}")
        index, stat = _int(parts[0], "<index>"), _int(parts[1], "<stat>")
        out.append((index, stat, _int(parts[-1], "<length>"), lines.pop(0)))
    return out


def parse_cmt(args: str) -> int:
    """PDU mode `+CMT: [<alpha>],<length>` / `+CDS: <length>` header -> <length>."""
    return _int(_split_args(args)[-1], "<length>")


# ---- +CMS ERROR (27.005 §3.2.5; causes of TS 24.011 §E.2 and TS 23.040 §9.2.3.22) ---------------
@dataclass(frozen=True, slots=True)
class CmsVerdict:
    code: int | None
    reason: str
    temporary: bool  # try again later (network or congestion)
    modem_fault: bool  # the modem or its SIM cannot send now: use another modem


_CMS_TEXT = {
    1: "unassigned number",
    8: "operator determined barring",
    10: "call barred",
    21: "short message transfer rejected",
    27: "destination out of service",
    28: "unidentified subscriber",
    29: "facility rejected",
    30: "unknown subscriber",
    38: "network out of order",
    41: "temporary failure",
    42: "congestion",
    47: "resources unavailable",
    50: "requested facility not subscribed",
    69: "requested facility not implemented",
    81: "invalid short message transfer reference value",
    96: "invalid mandatory information",
    127: "interworking unspecified",
    176: "TPDU not supported",
    192: "SC busy",
    193: "no SC subscription",
    194: "SC system failure",
    195: "invalid SME address",
    196: "destination SME barred",
    197: "SM rejected, duplicate SM",
    208: "SIM SMS storage full",
    210: "error in MS",
    211: "memory capacity exceeded",
    255: "unspecified error cause",
    300: "ME failure",
    301: "SMS service of ME reserved",
    302: "operation not allowed",
    303: "operation not supported",
    304: "invalid PDU mode parameter",
    305: "invalid text mode parameter",
    310: "SIM not inserted",
    311: "SIM PIN required",
    312: "PH-SIM PIN required",
    313: "SIM failure",
    314: "SIM busy",
    315: "SIM wrong",
    316: "SIM PUK required",
    317: "SIM PIN2 required",
    318: "SIM PUK2 required",
    320: "memory failure",
    321: "invalid memory index",
    322: "memory full",
    330: "SMSC address unknown",
    331: "no network service",
    332: "network timeout",
    340: "no +CNMA acknowledgement expected",
    500: "unknown error",
    512: "MM establishment failure",
    513: "lower layer failure",
    514: "network congestion",
    515: "modem busy or initialising",
}
# Worth retrying: network out of order, temporary failure, congestion, resources unavailable,
# SC busy/failure, SIM busy, no network service, network timeout, unknown, vendor 512-515.
_TEMPORARY = {38, 41, 42, 47, 192, 194, 255, 314, 331, 332, 500, 512, 513, 514, 515}
# The modem (or its SIM, or its storage, or its registration) is at fault, not the message.
_MODEM = {208, 210, 211, 300, 301, 302, 320, 322, 330, 331, 513, 515} | set(range(310, 319))


def classify_cms(code: int | None, text: str = "") -> CmsVerdict:
    """Temporary (retry) or permanent (invalid or barred destination, rejected message, a PDU we
    built wrong, a SIM that needs an operator). Codes not listed here are permanent when they are
    TP/RP causes (1-255) and temporary otherwise."""
    if code is None:
        return CmsVerdict(None, text or "+CMS ERROR without a number", temporary=True, modem_fault=False)
    reason = f"+CMS ERROR {code}: {_CMS_TEXT.get(code, 'unlisted cause')}"
    if code in _TEMPORARY:
        return CmsVerdict(code, reason, temporary=True, modem_fault=code in _MODEM)
    if code in _MODEM:
        # SIM missing, locked or broken: operator action; other modems may still send.
        return CmsVerdict(code, reason, temporary=False, modem_fault=True)
    if code <= 255 or 303 <= code <= 305 or code == 321:
        return CmsVerdict(code, reason, temporary=False, modem_fault=False)
    return CmsVerdict(code, reason, temporary=True, modem_fault=False)
