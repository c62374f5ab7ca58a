"""Sans-I/O TAP 1.8 session: the remote entry device's state machine for one call.

Nothing here touches a port or a clock. The I/O layer feeds received bytes and the current time
in (`TapSession.receive_data`, `tick`), sends what `data_to_send()` returns, wakes up at
`deadline`, and reads the outcome from `events()`. Section numbers are those of the Telocator
Alphanumeric Protocol, version 1.8 (4 Feb 1997): §3 the recommended call sequence, steps 1-12
(wake-up, logon, go-ahead, transaction blocks, logoff); §7 timing and retry parameters (T1-T5,
N1-N3). The blocks themselves are in `blocks.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from adapters.errors import CalloutError
from adapters.pager_tap.blocks import (
    LOGOFF,
    Response,
    Scanner,
    Token,
    encode_transaction,
    parse_response,
)


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


class SessionError(CalloutError, RuntimeError):
    """The caller used the TAP session in a state that does not allow it (a bug in the I/O layer)."""


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
