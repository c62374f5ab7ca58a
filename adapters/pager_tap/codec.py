"""Sans-I/O TAP 1.8: the block codec and the remote entry device's session state machine.

Nothing here touches a port or a clock. The I/O layer feeds received bytes and the current time
in (`TapSession.receive_data`, `tick`), sends what `data_to_send()` returns, wakes up at
`deadline`, and reads the outcome from `events()`. Section numbers are those of the Telocator
Alphanumeric Protocol, version 1.8 (4 Feb 1997):

- §2 operating environment: 7-bit ASCII (10-bit characters, 7E1 on a serial line);
- §3 the recommended call sequence, steps 1-12 (wake-up, logon, go-ahead, transaction blocks,
  logoff), and the block format: `<STX>field<CR>field<CR>...<ETX|ETB|US>ccc<CR>`, at most 256
  characters per block, ETB/US to continue a transaction in the next block;
- §4 implementation notes: SUB transparency for control characters inside fields (since 1.6);
- §5-§6 the checksum; §7 timing and retry parameters (T1-T5, N1-N3);
- Appendix A: message-sequence response codes `ddd text<CR>` (mandatory since 1.6).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum

CR, LF = 0x0D, 0x0A
STX, ETX, EOT, ACK, NAK = 0x02, 0x03, 0x04, 0x06, 0x15
ETB, SUB, ESC, RS, US = 0x17, 0x1A, 0x1B, 0x1E, 0x1F
TERMINATORS = (ETX, ETB, US)

MAX_BLOCK = 256  # §3: a block never exceeds 256 characters, STX through the final CR
MAX_DATA = MAX_BLOCK - 6  # STX, terminator, 3 checksum characters, CR: 250 for the fields
MAX_LINE = 512  # a response line longer than this is noise; cut it so memory stays bounded

GO_AHEAD = b"\x1b[p"
DISCONNECT = b"\x1b\x04"
LOGOFF = bytes((EOT, CR))


class TapFormatError(ValueError):
    """A block that is not well formed; `code` is the Appendix A code a central would answer."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}")


# ---- §5, §6: checksum --------------------------------------------------------------------------
def checksum(block: bytes) -> bytes:
    """The 3 checksum characters of `block` (STX through the terminator, inclusive).

    §6.1: sum the 7-bit values. §6.2: the low 12 bits as three nibbles, most significant first,
    each plus 0x30. The spec's example `<STX>123<CR>ABC<CR><ETX>` sums to 379 = 0x17B: `17;`.
    """
    total = sum(b & 0x7F for b in block) & 0xFFF
    return bytes((0x30 + (total >> 8), 0x30 + ((total >> 4) & 0xF), 0x30 + (total & 0xF)))


# ---- §2, §4: field contents --------------------------------------------------------------------
def to_seven_bit(text: str) -> str:
    """§2: TAP carries 7-bit ASCII. Accents are dropped (é → e) rather than masked to 7 bits,
    which would turn é (0xE9) into i; anything else outside ASCII becomes '?'."""
    out = []
    for ch in text:
        if ord(ch) < 0x80:
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(base if base and all(ord(c) < 0x80 for c in base) else "?")
    return "".join(out)


def escape_field(text: str, *, transparency: bool = True) -> list[bytes]:
    """A field's characters as wire tokens (one or two bytes each; a token is never split across
    blocks). §4 (TAP 1.6+): a control character c < 0x20 is sent as SUB, c + 0x40. Without
    transparency (pre-1.6 centrals) control characters become spaces."""
    tokens: list[bytes] = []
    for ch in to_seven_bit(text):
        c = ord(ch)
        if c < 0x20:
            tokens.append(bytes((SUB, c + 0x40)) if transparency else b" ")
        else:
            tokens.append(bytes((c,)))
    return tokens


def unescape_field(data: bytes) -> str:
    """The inverse of `escape_field`: SUB x → chr(x - 0x40)."""
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == SUB:
            nxt = next(it, None)
            if nxt is None:
                raise TapFormatError(515, "SUB at the end of a field")
            out.append((nxt - 0x40) & 0x7F)
        else:
            out.append(b)
    return out.decode("ascii")


# ---- §3: transaction blocks --------------------------------------------------------------------
def frame_block(data: bytes, terminator: int) -> bytes:
    """`<STX>data<terminator>ccc<CR>`."""
    if terminator not in TERMINATORS:
        raise ValueError("terminator must be ETX, ETB or US")
    if len(data) > MAX_DATA:
        raise ValueError(f"block data is {len(data)} characters; at most {MAX_DATA} fit")
    body = bytes((STX,)) + data + bytes((terminator,))
    return body + checksum(body) + bytes((CR,))


def encode_transaction(fields: Sequence[str], *, transparency: bool = True) -> list[bytes]:
    """One transaction (field 1: pager ID, field 2: message) as framed blocks.

    §3: every field ends with CR. A block holds at most 250 characters of fields; when a
    transaction needs more, a block that ends on a field boundary is terminated with ETB, one that
    ends inside a field with US, and the last block with ETX.
    """
    if not fields:
        raise ValueError("a transaction has at least one field (the pager ID)")
    tokens: list[bytes] = []
    for f in fields:
        tokens.extend(escape_field(f, transparency=transparency))
        tokens.append(bytes((CR,)))
    blocks: list[bytes] = []
    data = bytearray()
    for tok in tokens:
        if len(data) + len(tok) > MAX_DATA:
            blocks.append(frame_block(bytes(data), ETB if data.endswith(b"\r") else US))
            data.clear()
        data += tok
    blocks.append(frame_block(bytes(data), ETX))
    return blocks


@dataclass(frozen=True, slots=True)
class Block:
    data: bytes  # between STX and the terminator
    terminator: int

    @property
    def last(self) -> bool:
        return self.terminator == ETX


def decode_block(raw: bytes) -> Block:
    """Check one received block (as a central does): format (515) and checksum (514)."""
    if len(raw) > MAX_BLOCK:
        raise TapFormatError(515, f"block of {len(raw)} characters exceeds {MAX_BLOCK}")
    if len(raw) < 6 or raw[0] != STX or raw[-1] != CR:
        raise TapFormatError(515, "a block is <STX>...<ETX|ETB|US>ccc<CR>")
    terminator = raw[-5]
    if terminator not in TERMINATORS:
        raise TapFormatError(515, "no ETX, ETB or US before the checksum")
    body = raw[:-4]
    if any(b in (STX, *TERMINATORS) for b in body[1:-1]):
        raise TapFormatError(515, "control character inside the block data")
    if checksum(body) != raw[-4:-1]:
        raise TapFormatError(514, "checksum error")
    return Block(data=bytes(body[1:-1]), terminator=terminator)


def decode_transaction(blocks: Sequence[Block]) -> list[str]:
    """Reassemble the fields of one transaction from its blocks (ETB and US both continue)."""
    if not blocks or not blocks[-1].last or any(b.last for b in blocks[:-1]):
        raise TapFormatError(515, "a transaction ends with exactly one ETX block")
    data = b"".join(b.data for b in blocks)
    if not data.endswith(b"\r"):
        raise TapFormatError(515, "the last field does not end with CR")
    return [unescape_field(f) for f in data[:-1].split(b"\r")]


# ---- Appendix A: message-sequence responses ----------------------------------------------------
_SEQUENCE = re.compile(rb"^(\d{3})(?!\d)[ :-]?(.*)$", re.S)
_FIRST_NUMBER = re.compile(r"\d+")
# Appendix A (rev 1.8 changes 3 and 4): these codes carry the terminal's maximum length.
LENGTH_CODES = ("212", "214", "517")
# RS with these codes means "not now", not "never".
TEMPORARY_REJECTIONS = ("512", "516")


@dataclass(frozen=True, slots=True)
class Response:
    """One message sequence, `ddd text<CR>`. The text is informational (rev 1.8 change 1)
    except for 212/214/517, which carry the maximum message length."""

    code: str
    text: str

    @property
    def max_length(self) -> int | None:
        if self.code not in LENGTH_CODES:
            return None
        m = _FIRST_NUMBER.search(self.text)
        return int(m.group()) if m else None

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


def parse_response(line: bytes) -> Response | None:
    """A message-sequence line, or None when the line is not one (banner text, line noise)."""
    m = _SEQUENCE.match(line)
    if m is None:
        return None
    return Response(m.group(1).decode("ascii"), m.group(2).decode("ascii", "replace").strip())


class Token(Enum):
    ID = "ID="
    ACK = "ACK"
    NAK = "NAK"
    RS = "RS"
    DISCONNECT = "ESC EOT"
    GO_AHEAD = "ESC [p"


class Scanner:
    """Splits what the central sends into control tokens and text lines.

    Every byte is masked to 7 bits (§2; a parity bit read as data on an 8N1 port). ACK, NAK, RS,
    ESC EOT and ESC [p count as soon as they arrive, whether or not a CR follows (HylaFAX and
    sendpage accept an early go-ahead too); text before them on the same line is a line of its
    own. LF and NUL are ignored (Zetron ends its goodbye with LF CR). `ID=` is recognised inside
    a line, with or without CR and after any prompt text, while `expect_id` is set.
    """

    def __init__(self) -> None:
        self.expect_id = False
        self._line = bytearray()
        self._esc = 0  # 1: after ESC; 2: after ESC [

    def feed(self, data: bytes) -> list[Token | bytes]:
        out: list[Token | bytes] = []
        for raw in data:
            b = raw & 0x7F
            if self._esc:
                self._escape(b, out)
            elif b == ESC:
                self._esc = 1
            elif b in (ACK, NAK, RS):
                self._flush(out)
                out.append({ACK: Token.ACK, NAK: Token.NAK, RS: Token.RS}[b])
            elif b == CR:
                self._flush(out)
            elif b not in (LF, 0):
                self._line.append(b)
                if self.expect_id and self._line.endswith(b"ID="):
                    self._line.clear()
                    out.append(Token.ID)
                elif len(self._line) >= MAX_LINE:
                    self._flush(out)
        return out

    def _escape(self, b: int, out: list[Token | bytes]) -> None:
        step, self._esc = self._esc, 0
        if step == 1 and b == EOT:
            self._flush(out)
            out.append(Token.DISCONNECT)
        elif step == 1 and b == ord("["):
            self._esc = 2
        elif step == 2 and b == ord("p"):
            self._flush(out)
            out.append(Token.GO_AHEAD)
        # any other escape sequence is line noise and is dropped

    def _flush(self, out: list[Token | bytes]) -> None:
        if self._line:
            out.append(bytes(self._line))
            self._line.clear()


# ---- §3, §7: the session ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Timers:
    """§7 timing and retry parameters; the defaults are the spec's (as sendpage encodes them:
    T1..T5 = 2, 1, 10, 4, 8 s; N1..N3 = 3)."""

    wake_interval: float = 2.0  # T1: between CRs while waiting for ID= (step 3)
    wake_tries: int = 3  # N1: CRs sent before the terminal counts as silent
    response_timeout: float = 10.0  # T3: for the answer to a logon, a block or the go-ahead
    logon_tries: int = 3  # N3: logons sent when the central answers NAK (step 6)
    block_retries: int = 3  # N2: resends of a block the central answered NAK (step 9)
    # For the central's goodbye after EOT (step 12); the value of T4, whose exact role in §7 we
    # could not check (sendpage waits T1 here): a missing goodbye does not fail anything.
    logoff_timeout: float = 4.0


class State(StrEnum):
    NEW = "new"
    WAKE = "wake"  # step 3: CR sent, waiting for ID=
    LOGON = "logon"  # step 5A: logon sent, waiting for ACK/NAK/ESC EOT
    GO_AHEAD = "go_ahead"  # step 7: waiting for ESC [p
    READY = "ready"  # step 8: may send a transaction
    BLOCK = "block"  # step 9: block sent, waiting for ACK/NAK/RS/ESC EOT
    LOGOFF = "logoff"  # step 11: EOT sent, waiting for ESC EOT
    CLOSED = "closed"


class PageOutcome(StrEnum):
    ACCEPTED = "accepted"  # ACK: the terminal took the page (not: the pager received it)
    REJECTED = "rejected"  # RS: the terminal refused this transaction
    FAILED = "failed"  # no verdict: NAKs exhausted, line dropped, silence, forced disconnect


class CloseReason(StrEnum):
    LOGGED_OFF = "logged_off"  # step 12, our logoff answered (or not) by the central
    SILENT = "silent"  # the central stopped answering (T1 x N1, or T3)
    REFUSED = "refused"  # logon refused (ESC EOT, or NAK N3 times)
    DISCONNECTED = "disconnected"  # the central sent ESC EOT on its own (112, 113, 501, 503, ...)
    LINE_DROPPED = "line_dropped"  # the transport closed, or the modem said NO CARRIER
    GAVE_UP = "gave_up"  # we logged off after a block was NAKed N2 times


@dataclass(frozen=True, slots=True)
class Ready:
    """Logon accepted and go-ahead received (steps 6-7). `responses`: banners such as 110, 114."""

    responses: tuple[Response, ...]


@dataclass(frozen=True, slots=True)
class PageDone:
    ref: int
    outcome: PageOutcome
    responses: tuple[Response, ...]
    reason: str
    blocks: int
    resends: int

    @property
    def last(self) -> Response | None:
        """The verdict's message sequence (the last one received for this transaction)."""
        return self.responses[-1] if self.responses else None


@dataclass(frozen=True, slots=True)
class Closed:
    reason: CloseReason
    detail: str
    responses: tuple[Response, ...]


Event = Ready | PageDone | Closed


class SessionError(RuntimeError):
    """The caller used the session in a state that does not allow it (a bug in the I/O layer)."""


@dataclass
class _Transaction:
    ref: int
    blocks: list[bytes]
    index: int = 0
    resends: int = 0  # of the current block
    total_resends: int = 0


@dataclass
class TapSession:
    """The remote entry device's side of one TAP call, automatic mode (§3 steps 3-12)."""

    password: str = ""
    logon_id: str = "PG1"  # §3 step 5A: service PG (page), category 1
    timers: Timers = field(default_factory=Timers)
    # Lines that mean the line is gone (a modem's "NO CARRIER" in data mode).
    hangup_lines: tuple[str, ...] = ()
    transparency: bool = True
    state: State = State.NEW
    deadline: float | None = None
    carrier_lost: bool = False  # a hang-up line was seen (before or after the session closed)

    def __post_init__(self) -> None:
        self._out = bytearray()
        self._events: list[Event] = []
        self._scanner = Scanner()
        self._responses: list[Response] = []
        self._tries = 0
        self._tx: _Transaction | None = None
        self._refs = 0
        self._gave_up = False

    # ---- I/O side -----------------------------------------------------------------------------
    def data_to_send(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def start(self, now: float) -> None:
        """The line is up (carrier, or TCP connected): step 3, send CR and wait for ID=."""
        if self.state is not State.NEW:
            raise SessionError(f"start() in state {self.state}")
        self.state = State.WAKE
        self._scanner.expect_id = True
        self._tries = 1
        self._send(b"\r", now + self.timers.wake_interval)

    def receive_data(self, data: bytes, now: float) -> None:
        for tok in self._scanner.feed(data):
            if self.state is State.CLOSED:  # only a hang-up still matters (the modem's, after ours)
                if isinstance(tok, bytes) and tok.decode("ascii", "replace").strip() in self.hangup_lines:
                    self.carrier_lost = True
                continue
            if isinstance(tok, bytes):
                self._line(tok)
            else:
                self._token(tok, now)

    def tick(self, now: float) -> None:
        """Call when `deadline` has passed (calling it early does nothing)."""
        if self.deadline is None or now < self.deadline:
            return
        t = self.timers
        if self.state is State.WAKE:
            if self._tries < t.wake_tries:
                self._tries += 1
                self._send(b"\r", now + t.wake_interval)
            else:
                self._close(CloseReason.SILENT, f"no ID= after {self._tries} CRs")
        elif self.state is State.LOGON:
            self._close(CloseReason.SILENT, "no answer to the logon")
        elif self.state is State.GO_AHEAD:
            self._close(CloseReason.SILENT, "logon accepted but no go-ahead")
        elif self.state is State.BLOCK:
            # sendpage resends after a timeout as after a NAK; a dispatch gateway rather fails over
            # fast: a central that stays silent for T3 is taken as gone.
            self._page_done(PageOutcome.FAILED, "no answer to the block")
            self._close(CloseReason.SILENT, "no answer to a transaction block")
        elif self.state is State.LOGOFF:
            self._close(self._logoff_reason(), "no goodbye from the central")

    def connection_lost(self) -> None:
        if self.state is State.CLOSED:
            return
        if self.state is State.LOGOFF:
            self._close(self._logoff_reason(), "line closed after logoff")
            return
        if self.state is State.BLOCK:
            self._page_done(PageOutcome.FAILED, "line dropped")
        self._close(CloseReason.LINE_DROPPED, "line dropped")

    # ---- the user's side ----------------------------------------------------------------------
    def submit(self, fields: Sequence[str], now: float) -> int:
        """Step 8: send one transaction (pager ID, message). Returns the ref its PageDone carries."""
        if self.state is not State.READY:
            raise SessionError(f"submit() in state {self.state}")
        self._refs += 1
        self._tx = _Transaction(self._refs, encode_transaction(fields, transparency=self.transparency))
        self.state = State.BLOCK
        self._responses.clear()
        self._send(self._tx.blocks[0], now + self.timers.response_timeout)
        return self._refs

    def logoff(self, now: float) -> None:
        """Step 11: EOT CR; the central answers ESC EOT (step 12)."""
        if self.state is not State.READY:
            raise SessionError(f"logoff() in state {self.state}")
        self._logoff(now)

    # ---- internals ----------------------------------------------------------------------------
    def _send(self, data: bytes, deadline: float | None) -> None:
        self._out += data
        self.deadline = deadline

    def _logon(self, now: float) -> None:
        self._send(b"\x1b" + self.logon_id.encode("ascii") + self.password.encode("ascii") + b"\r", None)
        self.deadline = now + self.timers.response_timeout

    def _logoff(self, now: float) -> None:
        self.state = State.LOGOFF
        self._responses.clear()
        self._send(LOGOFF, now + self.timers.logoff_timeout)

    def _line(self, line: bytes) -> None:
        text = line.decode("ascii", "replace").strip()
        if text in self.hangup_lines:
            self.carrier_lost = True
            if self.state is State.BLOCK:
                self._page_done(PageOutcome.FAILED, f"line dropped ({text})")
            if self.state is State.LOGOFF:
                self._close(self._logoff_reason(), text)
            else:
                self._close(CloseReason.LINE_DROPPED, text)
            return
        while line.startswith(b"ID="):  # an extra, bare prompt glued to the next line (step 4)
            line = line[3:]
        resp = parse_response(line)
        if resp is not None:
            self._responses.append(resp)

    def _token(self, tok: Token, now: float) -> None:
        handler = {
            State.WAKE: self._in_wake,
            State.LOGON: self._in_logon,
            State.GO_AHEAD: self._in_go_ahead,
            State.READY: self._in_ready,
            State.BLOCK: self._in_block,
            State.LOGOFF: self._in_logoff,
        }.get(self.state)
        if handler is not None:
            handler(tok, now)

    def _in_wake(self, tok: Token, now: float) -> None:
        if tok is Token.ID:  # step 4 → 5A
            self._scanner.expect_id = False
            self.state = State.LOGON
            self._responses.clear()
            self._tries = 1
            self._logon(now)
        elif tok is Token.DISCONNECT:
            self._close(CloseReason.REFUSED, "the central disconnected before the logon")

    def _in_logon(self, tok: Token, now: float) -> None:
        if tok is Token.ACK:  # step 6: accepted; the go-ahead follows (step 7)
            self.state = State.GO_AHEAD
            self.deadline = now + self.timers.response_timeout
        elif tok is Token.GO_AHEAD:  # an early go-ahead, straight after the logon
            self._ready()
        elif tok is Token.NAK:  # step 6: "try logon again"
            if self._tries < self.timers.logon_tries:
                self._tries += 1
                self._logon(now)
            else:
                self._close(CloseReason.REFUSED, f"logon answered NAK {self._tries} times")
        elif tok is Token.DISCONNECT:  # step 6: logon refused, the central hangs up
            self._close(CloseReason.REFUSED, "logon refused")

    def _in_go_ahead(self, tok: Token, now: float) -> None:
        if tok is Token.GO_AHEAD:
            self._ready()
        elif tok is Token.DISCONNECT:
            self._close(CloseReason.REFUSED, "disconnected before the go-ahead")

    def _in_ready(self, tok: Token, now: float) -> None:
        if tok is Token.DISCONNECT:  # e.g. 113 (session time) or 501 (input timeout)
            self._close(CloseReason.DISCONNECTED, "the central ended the session")

    def _in_block(self, tok: Token, now: float) -> None:
        tx = self._tx
        assert tx is not None
        t = self.timers
        if tok is Token.ACK:
            tx.index += 1
            if tx.index < len(tx.blocks):  # ETB/US: the central wants the next block
                tx.resends = 0
                self._send(tx.blocks[tx.index], now + t.response_timeout)
            else:
                self._page_done(PageOutcome.ACCEPTED, "accepted")
                self.state = State.READY
                self.deadline = None
        elif tok is Token.NAK:  # checksum or format bad: resend the same block, N2 times
            if tx.resends < t.block_retries:
                tx.resends += 1
                tx.total_resends += 1
                self._send(tx.blocks[tx.index], now + t.response_timeout)
            else:
                self._page_done(PageOutcome.FAILED, f"block NAKed after {tx.resends} resends")
                self._gave_up = True
                self._logoff(now)
        elif tok is Token.RS:  # rejected: skip to the next transaction
            self._page_done(PageOutcome.REJECTED, "rejected")
            self.state = State.READY
            self.deadline = None
        elif tok is Token.DISCONNECT:  # forced disconnect: 112, 113, 503, ...
            responses = tuple(self._responses)
            self._page_done(PageOutcome.FAILED, "the central ended the session")
            self._close(CloseReason.DISCONNECTED, "the central ended the session", responses)

    def _in_logoff(self, tok: Token, now: float) -> None:
        if tok in (Token.DISCONNECT, Token.RS):
            self._close(self._logoff_reason(), "goodbye" if tok is Token.DISCONNECT else "goodbye with RS")

    def _logoff_reason(self) -> CloseReason:
        return CloseReason.GAVE_UP if self._gave_up else CloseReason.LOGGED_OFF

    def _ready(self) -> None:
        self.state = State.READY
        self.deadline = None
        self._events.append(Ready(tuple(self._responses)))
        self._responses.clear()

    def _page_done(self, outcome: PageOutcome, reason: str) -> None:
        tx = self._tx
        assert tx is not None
        blocks = min(tx.index + 1, len(tx.blocks))
        self._events.append(
            PageDone(tx.ref, outcome, tuple(self._responses), reason, blocks, tx.total_resends)
        )
        self._tx = None
        self._responses.clear()

    def _close(self, reason: CloseReason, detail: str, responses: tuple[Response, ...] | None = None) -> None:
        self.state = State.CLOSED
        self.deadline = None
        self._events.append(
            Closed(reason, detail, tuple(self._responses) if responses is None else responses)
        )
        self._responses.clear()
