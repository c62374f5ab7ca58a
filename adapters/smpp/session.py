"""The ESME side of an SMPP 3.4 session as a pure state machine (sans-I/O).

It never touches a socket or a clock: bytes come in with `receive_data(data, now)`, bytes to
write come out of `data_to_send()`, what happened comes out of `events_received()`, and
`deadline()` says when `tick(now)` must be called next (bind timeout, enquire_link, the end of a
throttling pause). Calls: `connected(now)` for each new TCP connection, `bind(...)` (§4.1),
`submit(...) -> sequence_number` (§4.4), `unbind()` (§4.2), `connection_lost(reason)`.

One session object lives as long as the channel: sequence numbers, the throttling back-off and
the receipt memory carry over reconnects. When a connection ends, the submits still waiting for
their response are listed in `Closed.retry`: they are not known to be sent, so the caller may
submit them again on the next connection (the SMSC may then see a part twice).

Section numbers refer to SMPP v3.4 Issue 1.2 (12 Oct 1999).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from adapters.errors import CalloutError
from adapters.smpp import codec, content
from adapters.smpp.codec import BindMode, FramingError, PduError, SmppError, Status
from adapters.smpp.receipts import ReceiptTracker, Report, Track

# §5.1.3: the SMSC is overloaded; pause every submission and resubmit later.
THROTTLING = frozenset({Status.ESME_RTHROTTLED, Status.ESME_RMSGQFUL})


class SessionError(CalloutError):
    """The session was asked for something its state does not allow (a caller's bug)."""


class WindowFull(SessionError):
    """`submit` with `window` submits already waiting for their response."""


class State(Enum):
    CLOSED = "closed"  # no connection
    OPEN = "open"  # connected, not bound
    BINDING = "binding"  # bind sent, waiting for its response
    BOUND = "bound"
    UNBINDING = "unbinding"  # unbind sent, waiting for unbind_resp


# ---- events ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Bound:
    """§4.1: the bind was accepted."""

    mode: BindMode
    system_id: str  # the SMSC's


@dataclass(frozen=True, slots=True)
class Closed:
    """The session is over: refused bind, unbind, timeout, bad stream or a lost connection.
    `retry`: sequence numbers of submits that never got a response (not known to be sent)."""

    reason: str
    retry: tuple[int, ...] = ()
    status: int = 0  # the command_status of a refused bind
    error: SmppError | None = None


@dataclass(frozen=True, slots=True)
class SubmitAccepted:
    """§4.4.2: submit_sm_resp with ESME_ROK and the SMSC's message_id."""

    sequence: int
    message_id: str


@dataclass(frozen=True, slots=True)
class SubmitRefused:
    """A submit_sm answered with an error (submit_sm_resp or generic_nack, §4.3)."""

    sequence: int
    status: int


@dataclass(frozen=True, slots=True)
class SubmitThrottled:
    """ESME_RTHROTTLED / ESME_RMSGQFUL: submit it again after the pause. `pause` is the new pause
    in seconds, 0 when one was already running (other outstanding submits were refused too)."""

    sequence: int
    status: int
    pause: float


@dataclass(frozen=True, slots=True)
class TextReceived:
    """§4.6.1: a mobile-originated text (concatenated parts already joined)."""

    address: str
    text: str
    destination: str


@dataclass(frozen=True, slots=True)
class Problem:
    """Something worth a warning in the log; the session carried on."""

    text: str
    error: SmppError | None = None


Event = Bound | Closed | SubmitAccepted | SubmitRefused | SubmitThrottled | Report | TextReceived | Problem


@dataclass(eq=False, slots=True)
class _Outstanding:
    track: Track | None
    part: int
    forgotten: bool = False


class SmppSession:
    """One ESME's session state; see the module docstring for how to drive it."""

    def __init__(
        self,
        *,
        window: int = 10,
        enquire_link_interval: float = 30.0,
        enquire_link_timeout: float = 10.0,
        bind_timeout: float = 10.0,
        throttle_backoff: float = 1.0,
        throttle_backoff_max: float = 16.0,
        receipt_id: content.RadixMode = "same",
        max_pdu: int = codec.DEFAULT_MAX_PDU,
    ) -> None:
        self.window = window
        self.enquire_link_interval = enquire_link_interval
        self.enquire_link_timeout = enquire_link_timeout
        self.bind_timeout = bind_timeout
        self.throttle_backoff = throttle_backoff
        self.throttle_backoff_max = throttle_backoff_max
        self.max_pdu = max_pdu
        self.state = State.CLOSED
        self.mode = BindMode.TRANSCEIVER
        self.receipts = ReceiptTracker(receipt_id)
        self._splitter = codec.PduSplitter(max_length=max_pdu)
        self._reassembler = content.Reassembler()
        self._out = bytearray()
        self._events: list[Event] = []
        self._outstanding: dict[int, _Outstanding] = {}
        self._seq = 0
        self._bind_seq = 0
        self._bind_deadline: float | None = None
        self._last_rx = 0.0
        self._link_deadline: float | None = None  # enquire_link sent, its response due by then
        self.paused_until = 0.0
        self._pause_pending = False
        self._throttle_level = 0

    # ---- I/O side ---------------------------------------------------------------------------
    def data_to_send(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    def events_received(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    def deadline(self) -> float | None:
        """When `tick` must next be called, or None."""
        times: list[float] = []
        if self.state is State.BINDING and self._bind_deadline is not None:
            times.append(self._bind_deadline)
        if self.state in (State.BOUND, State.UNBINDING):
            if self._link_deadline is not None:
                times.append(self._link_deadline)
            else:
                times.append(self._last_rx + self.enquire_link_interval)
            if self._pause_pending:
                times.append(self.paused_until)
        return min(times) if times else None

    def tick(self, now: float) -> None:
        """Timers: the bind timeout, enquire_link when idle (§4.11) and the hung peer it finds."""
        if self._pause_pending and now >= self.paused_until:
            self._pause_pending = False
        if self.state is State.BINDING:
            if self._bind_deadline is not None and now >= self._bind_deadline:
                name = f"bind_{self.mode.name.lower()}_resp"
                self._close(f"no {name} within {self.bind_timeout:g}s")
            return
        if self.state not in (State.BOUND, State.UNBINDING):
            return
        if self._link_deadline is not None:
            if now >= self._link_deadline:
                self._close(f"no enquire_link_resp within {self.enquire_link_timeout:g}s")
        elif now >= self._last_rx + self.enquire_link_interval:  # the same sum as `deadline`
            self._send(codec.EnquireLink(sequence=self._next_seq()))
            self._link_deadline = now + self.enquire_link_timeout

    def connected(self, now: float) -> None:
        """A new TCP connection to the SMSC is up."""
        if self.state is not State.CLOSED:
            raise SessionError(f"connected() in state {self.state.value}")
        self.state = State.OPEN
        self._splitter = codec.PduSplitter(max_length=self.max_pdu)
        self._out.clear()
        self._last_rx = now
        self._link_deadline = None

    def connection_lost(self, reason: str) -> None:
        """The connection is gone (EOF, reset, given up): close the session if it is not yet."""
        if self.state is not State.CLOSED:
            self._close(reason)

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the SMSC. Raises `FramingError` (a `ProtocolError`) when the stream cannot
        be split any more; the session is closed by then and its `Closed` event queued."""
        if self.state in (State.CLOSED, State.OPEN):
            return
        self._last_rx = now
        try:
            frames = self._splitter.feed(data)
        except FramingError as exc:
            what = "bind failed" if self.state is State.BINDING else "connection lost"
            self._close(f"{what}: {exc!r}", error=exc)
            raise
        for frame in frames:
            if self.closed:
                break
            if self.state is State.BINDING:
                self._binding_frame(frame)
            else:
                self._frame(frame, now)

    # ---- calls ------------------------------------------------------------------------------
    def bind(
        self,
        now: float,
        *,
        system_id: str,
        password: str = "",
        system_type: str = "",
        address_range: str = "",
        mode: BindMode = BindMode.TRANSCEIVER,
    ) -> int:
        """§4.1: send bind_transmitter / _receiver / _transceiver; nothing else until its
        response (§2.2). Returns its sequence_number."""
        if self.state is not State.OPEN:
            raise SessionError(f"bind() in state {self.state.value}")
        seq = self._next_seq()
        self._send(
            codec.Bind(
                sequence=seq,
                mode=mode,
                system_id=system_id,
                password=password,
                system_type=system_type,
                address_range=address_range,
            )
        )
        self.mode = mode
        self._bind_seq = seq
        self._bind_deadline = now + self.bind_timeout
        self.state = State.BINDING
        return seq

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    @property
    def outstanding(self) -> int:
        """Submits waiting for their response (the window in use)."""
        return len(self._outstanding)

    def can_submit(self, now: float) -> bool:
        """Bound, a free place in the window, and no throttling pause running."""
        return (
            self.state is State.BOUND
            and self.mode is not BindMode.RECEIVER
            and len(self._outstanding) < self.window
            and now >= self.paused_until
        )

    def submit(
        self, pdu: codec.SubmitSm | bytes, now: float, *, track: Track | None = None, part: int = 0
    ) -> int:
        """§4.4.1: send a submit_sm (a dataclass, or one already encoded with any
        sequence_number). With `track`, its receipt counts as part `part` of that message."""
        if not self.can_submit(now):
            if self.state is State.BOUND and len(self._outstanding) >= self.window:
                raise WindowFull(f"{self.window} submits already wait for their response")
            raise SessionError(f"cannot submit in state {self.state.value} (bound as {self.mode.name})")
        wire = codec.encode(pdu) if isinstance(pdu, codec.SubmitSm) else pdu
        seq = self._next_seq()
        self._out += wire[:12] + seq.to_bytes(4, "big") + wire[16:]  # §3.2: sequence_number
        self._outstanding[seq] = _Outstanding(track, part)
        return seq

    def forget(self, sequence: int) -> None:
        """The caller gave up on this submit: its response only frees its place in the window."""
        waiting = self._outstanding.get(sequence)
        if waiting is not None:
            waiting.forgotten = True

    def unbind(self) -> int:
        """§4.2: ask the SMSC to end the session; `Closed("unbound")` follows its unbind_resp."""
        if self.state is not State.BOUND:
            raise SessionError(f"unbind() in state {self.state.value}")
        seq = self._next_seq()
        self._send(codec.Unbind(sequence=seq))
        self.state = State.UNBINDING
        return seq

    # ---- PDUs in ----------------------------------------------------------------------------
    def _binding_frame(self, frame: bytes) -> None:
        """§4.1: only the bind response matters; anything else before it is ignored."""
        try:
            pdu = codec.decode(frame)
        except SmppError as exc:
            self._close(f"bind failed: {exc!r}", error=exc)
            return
        if pdu.sequence != self._bind_seq:
            return
        if isinstance(pdu, codec.BindResp | codec.GenericNack) and pdu.status:
            self._close(f"bind refused: {codec.status_name(pdu.status)}", status=pdu.status)
        elif isinstance(pdu, codec.BindResp):
            self.state = State.BOUND
            self._bind_deadline = None
            self._events.append(Bound(self.mode, pdu.system_id))

    def _frame(self, frame: bytes, now: float) -> None:
        try:
            pdu = codec.decode(frame)
        except PduError as exc:
            self._events.append(Problem(f"bad PDU: {exc}", exc))
            if exc.command_id == codec.CommandId.SUBMIT_SM_RESP:
                self._submit_resp(exc.sequence, Status.ESME_RSYSERR, "", now)
            elif not codec.is_response(exc.command_id):  # §4.3: a request we cannot take
                self._send(codec.GenericNack(sequence=exc.sequence, status=exc.status))
            return
        if isinstance(pdu, codec.SubmitSmResp):
            self._submit_resp(pdu.sequence, pdu.status, pdu.message_id, now)
        elif isinstance(pdu, codec.DeliverSm):
            self._deliver(pdu)
        elif isinstance(pdu, codec.EnquireLink):  # §4.11.2
            self._send(codec.EnquireLinkResp(sequence=pdu.sequence))
        elif isinstance(pdu, codec.EnquireLinkResp):
            self._link_deadline = None
        elif isinstance(pdu, codec.GenericNack):  # §4.3
            if pdu.sequence in self._outstanding:
                self._submit_resp(pdu.sequence, pdu.status or Status.ESME_RSYSERR, "", now)
            else:
                self._events.append(Problem(f"generic_nack {codec.status_name(pdu.status)}"))
        elif isinstance(pdu, codec.Unbind):  # §4.2: answer, then the session is over
            self._send(codec.UnbindResp(sequence=pdu.sequence))
            self._close("the SMSC unbound")
        elif isinstance(pdu, codec.UnbindResp):
            self._close("unbound")
        elif not codec.is_response(pdu.command_id):  # a request an ESME does not take
            self._send(codec.GenericNack(sequence=pdu.sequence, status=Status.ESME_RINVBNDSTS))

    def _submit_resp(self, seq: int, status: int, message_id: str, now: float) -> None:
        waiting = self._outstanding.pop(seq, None)
        if waiting is None:
            self._events.append(Problem(f"response to unknown sequence {seq}"))
            return
        if waiting.forgotten:
            return
        if status == Status.ESME_ROK:
            self._throttle_level = 0
            self._events.append(SubmitAccepted(seq, message_id))
            if waiting.track is not None:
                self._report(self.receipts.accepted(waiting.track, waiting.part, message_id))
        elif status in THROTTLING:
            self._events.append(SubmitThrottled(seq, status, self._throttle(now)))
        else:
            self._events.append(SubmitRefused(seq, status))

    def _throttle(self, now: float) -> float:
        """Pause every submission; the pause doubles while the SMSC keeps refusing."""
        if now < self.paused_until:
            return 0.0  # already paused for this episode
        delay = min(self.throttle_backoff_max, self.throttle_backoff * (1 << self._throttle_level))
        self._throttle_level = min(self._throttle_level + 1, 30)
        self.paused_until = now + delay
        self._pause_pending = True
        return delay

    def _deliver(self, pdu: codec.DeliverSm) -> None:
        """§4.6.1: a receipt (Appendix B) or a mobile-originated text; always answered (§4.6.2)."""
        try:
            what = content.interpret_deliver(pdu)
        except SmppError as exc:
            self._events.append(Problem(f"unusable deliver_sm: {exc}", exc))
            # A permanent application error: an SMSC must not redeliver what we cannot read.
            self._send(codec.DeliverSmResp(sequence=pdu.sequence, status=Status.ESME_RX_P_APPN))
            return
        self._send(codec.DeliverSmResp(sequence=pdu.sequence))
        if isinstance(what, content.Receipt):
            self._report(self.receipts.receipt(what))
            return
        text = what.text
        if what.concat is not None:
            whole = self._reassembler.add(what.source, what.concat, what.text)
            if whole is None:
                return
            text = whole
        address = what.source
        if what.source_ton == 1 and address and not address.startswith("+"):
            address = "+" + address  # §5.2.5: TON 1 is international; E.164 with its '+'
        self._events.append(TextReceived(address, text, what.destination))

    # ---- helpers ----------------------------------------------------------------------------
    def _report(self, report: Report | None) -> None:
        if report is not None:
            self._events.append(report)

    def _close(self, reason: str, *, status: int = 0, error: SmppError | None = None) -> None:
        retry = tuple(seq for seq, w in self._outstanding.items() if not w.forgotten)
        self._outstanding.clear()
        self.state = State.CLOSED
        self._bind_deadline = self._link_deadline = None
        self._events.append(Closed(reason, retry, status, error))

    def _send(self, pdu: codec.Pdu) -> None:
        self._out += codec.encode(pdu)

    def _next_seq(self) -> int:
        self._seq = self._seq % codec.MAX_SEQUENCE + 1  # §3.2: 1 to 0x7FFFFFFF, then wrap
        return self._seq
