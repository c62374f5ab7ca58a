"""Sans-I/O APRS messaging (APRS 1.0.1 chapter 14): message numbers, retries, acks, duplicates.

`Messenger` never reads a clock or touches the link: the caller passes `now` (any monotonic
seconds) and writes the frames it gets back. It turns

- an outbound message (already fitted into parts) into one APRS message per part, each with its
  own message number, retransmitted on the retry schedule until every part is acked;
- an `ackNN` for each part into `DeliveryReport(delivered=True)`, a `rejNN` or an exhausted
  schedule into `DeliveryReport(delivered=False)`;
- an incoming message addressed to us into an ack back (every copy is acked: ch. 14) and one
  `InboundText` (retransmitted copies, same source and number, are not emitted again);
- a position report from any station (ch. 8, 9: `aprs_position.py`) into one `PositionReport`
  (a digipeated copy, the same packet from the same station within 30 s, is not emitted again);
  the core keeps those of the stations it knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.base import ChannelEvent, DeliveryReport, InboundText, PositionReport
from adapters.radio_kiss.aprs import (
    AprsAck,
    AprsMessage,
    AprsReject,
    check_addressee,
    encode_ack,
    encode_message,
    parse_info,
    sanitize_text,
)
from adapters.radio_kiss.aprs_position import observed_at, parse_position
from adapters.radio_kiss.framing import Address, AX25Error, UIFrame

MSGNO_LIMIT = 100_000  # numbers run 1..99999: at most five characters (ch. 14)
# Without a message number a retransmission cannot be told from a new message; identical text
# from the same station within this many seconds is taken as a copy (digipeaters use 30 s).
UNNUMBERED_WINDOW = 30.0


@dataclass
class _Part:
    msgno: str
    info: bytes
    acked: bool = False


@dataclass
class _Outgoing:
    ref: str
    addressee: str
    parts: list[_Part]
    first_sent: float
    due: float
    transmissions: int = 1


@dataclass(frozen=True, slots=True)
class Submission:
    ref: str  # "<ADDRESSEE>:<first msgno>"; later delivery reports quote it
    addressee: str
    msgnos: tuple[str, ...]
    frames: tuple[UIFrame, ...]


@dataclass
class Reaction:
    """What the caller must do: transmit `frames`, emit `events`. `echo`: our own packet came
    back (a digipeater repeated it); `ignored`: a valid packet of no concern to us, and why."""

    frames: list[UIFrame] = field(default_factory=list)
    events: list[ChannelEvent] = field(default_factory=list)
    echo: bool = False
    ignored: str = ""


def _normal(addressee: str) -> str:
    """A callsign as stations write their own source address ("N0CALL-0" is "N0CALL"); a tactical
    addressee that is no AX.25 address (longer than six characters) stays as it is."""
    try:
        return str(Address.parse(addressee))
    except AX25Error:
        return addressee


class Messenger:
    def __init__(
        self,
        *,
        station: Address,
        destination: Address,
        path: Sequence[Address] = (),
        retry_intervals: Sequence[float] = (8.0, 16.0, 32.0, 64.0),
        duplicate_window: float = 300.0,
        first_msgno: int = 1,
    ) -> None:
        if not retry_intervals or any(i <= 0 for i in retry_intervals):
            raise ValueError("retry_intervals must be one or more positive numbers of seconds")
        self.station = station
        self.callsign = str(station)
        self.destination = destination
        self.path = tuple(path)
        self.retry_intervals = tuple(retry_intervals)
        self.duplicate_window = duplicate_window
        self._next_msgno = (first_msgno - 1) % (MSGNO_LIMIT - 1) + 1
        self._out: dict[str, _Outgoing] = {}
        self._by_part: dict[tuple[str, str], str] = {}  # (addressee, msgno) -> ref
        self._seen: dict[tuple[str, str], float] = {}  # incoming (source, msgno or text) -> when

    # ---- outbound -------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return len(self._out)

    def next_due(self) -> float | None:
        return min((o.due for o in self._out.values()), default=None)

    def submit(self, addressee: str, parts: Sequence[str], now: float) -> Submission:
        """Number each part and return the frames of their first transmission. Raises AprsError
        for an addressee APRS cannot carry (a permanent failure); part text is sanitised."""
        to = _normal(check_addressee(addressee))
        built = []
        for text in parts or ("",):
            msgno = self._allocate(to)
            built.append(_Part(msgno, encode_message(to, sanitize_text(text), msgno)))
        ref = f"{to}:{built[0].msgno}"
        out = _Outgoing(ref, to, built, first_sent=now, due=now + self.retry_intervals[0])
        self._out[ref] = out
        for p in built:
            self._by_part[(to, p.msgno)] = ref
        msgnos = tuple(p.msgno for p in built)
        return Submission(ref, to, msgnos, tuple(self._frame(p.info) for p in built))

    def withdraw(self, ref: str) -> None:
        """Forget a submission whose first transmission could not be written."""
        out = self._out.pop(ref, None)
        if out is not None:
            for p in out.parts:
                self._by_part.pop((out.addressee, p.msgno), None)

    def poll(self, now: float) -> Reaction:
        """Retransmit what is due; report failure when the last interval passes without an ack."""
        reaction = Reaction()
        for out in [o for o in self._out.values() if o.due <= now]:
            if out.transmissions < len(self.retry_intervals):
                reaction.frames.extend(self._frame(p.info) for p in out.parts if not p.acked)
                out.due = now + self.retry_intervals[out.transmissions]
                out.transmissions += 1
                continue
            unacked = [p.msgno for p in out.parts if not p.acked]
            reaction.events.append(
                DeliveryReport(
                    out.ref,
                    delivered=False,
                    reason=f"no APRS ack from {out.addressee} after {out.transmissions} transmissions "
                    f"in {now - out.first_sent:.0f}s",
                    evidence=self._evidence(out, unacked=unacked),
                )
            )
            self.withdraw(out.ref)
        return reaction

    # ---- inbound --------------------------------------------------------------------------------
    def receive(self, frame: UIFrame, now: float, wall: float | None = None) -> Reaction:
        """React to one heard UI frame. Raises AprsError for a malformed message or position
        packet. `wall`: epoch seconds now, to date a position's ch. 6 timestamp."""
        if frame.source.call == self.station.call and frame.source.ssid == self.station.ssid:
            return Reaction(echo=True)
        packet = parse_info(frame.info)
        if packet is None:
            return self._position(frame, now, wall)
        if packet.addressee.upper() != self.callsign:
            return Reaction(ignored=f"message for {packet.addressee}")
        source = str(frame.source)
        if isinstance(packet, AprsAck):
            return self._acked(source, packet.msgno)
        if isinstance(packet, AprsReject):
            return self._rejected(source, packet.msgno)
        return self._message(source, packet, now)

    def _acked(self, source: str, msgno: str) -> Reaction:
        ref = self._by_part.get((source, msgno))
        out = self._out.get(ref) if ref is not None else None
        if out is None:
            return Reaction(ignored=f"ack{msgno} from {source} matches nothing pending")
        for p in out.parts:
            if p.msgno == msgno:
                p.acked = True
        if not all(p.acked for p in out.parts):
            return Reaction()
        self.withdraw(out.ref)
        return Reaction(events=[DeliveryReport(out.ref, delivered=True, evidence=self._evidence(out))])

    def _rejected(self, source: str, msgno: str) -> Reaction:
        ref = self._by_part.get((source, msgno))
        out = self._out.get(ref) if ref is not None else None
        if out is None:
            return Reaction(ignored=f"rej{msgno} from {source} matches nothing pending")
        self.withdraw(out.ref)
        report = DeliveryReport(
            out.ref,
            delivered=False,
            reason=f"rejected by {source} (rej{msgno})",
            evidence=self._evidence(out, rejected=msgno),
        )
        return Reaction(events=[report])

    def _message(self, source: str, packet: AprsMessage, now: float) -> Reaction:
        reaction = Reaction()
        if packet.reply_ack is not None:  # "{MM}AA" also acks our message AA (replyacks.txt)
            acked = self._acked(source, packet.reply_ack)
            reaction.events.extend(acked.events)
        self._forget_old(now)
        if packet.msgno is not None:
            reaction.frames.append(self._frame(encode_ack(source, packet.msgno)))
            key, window = (source, "#" + packet.msgno), self.duplicate_window
        else:
            key, window = (source, "=" + packet.text), min(self.duplicate_window, UNNUMBERED_WINDOW)
        seen = self._seen.get(key)
        if seen is not None and now - seen < window:
            reaction.ignored = f"copy of a message from {source} already received"
            return reaction
        self._seen[key] = now
        evidence: dict[str, Any] = {"aprs_from": source}
        if packet.msgno is not None:
            evidence["aprs_msgno"] = packet.msgno
        reaction.events.append(InboundText(address=source, text=packet.text, evidence=evidence))
        return reaction

    def _position(self, frame: UIFrame, now: float, wall: float | None) -> Reaction:
        fix = parse_position(frame.info)
        if fix is None:
            return Reaction(ignored="neither an APRS message nor a position")
        source = str(frame.source)
        self._forget_old(now)
        key = (source, "@" + frame.info.decode("ascii", errors="replace"))
        seen = self._seen.get(key)
        if seen is not None and now - seen < UNNUMBERED_WINDOW:
            return Reaction(ignored=f"copy of a position from {source} already received")
        self._seen[key] = now
        evidence: dict[str, Any] = {"aprs_from": source, "aprs_symbol": fix.symbol}
        if fix.ambiguity:
            evidence["aprs_ambiguity"] = fix.ambiguity
        when = observed_at(fix.timestamp, wall) if wall is not None else None
        report = PositionReport(address=source, lat=fix.lat, lon=fix.lon, observed_at=when, evidence=evidence)
        return Reaction(events=[report])

    # ---- helpers --------------------------------------------------------------------------------
    def _frame(self, info: bytes) -> UIFrame:
        return UIFrame.command(self.destination, self.station, self.path, info)

    def _allocate(self, addressee: str) -> str:
        for _ in range(MSGNO_LIMIT):
            msgno = str(self._next_msgno)
            self._next_msgno = self._next_msgno % (MSGNO_LIMIT - 1) + 1
            if (addressee, msgno) not in self._by_part:
                return msgno
        raise RuntimeError("every APRS message number is in use")  # pragma: no cover

    def _forget_old(self, now: float) -> None:
        horizon = max(self.duplicate_window, UNNUMBERED_WINDOW)
        for key in [k for k, t in self._seen.items() if now - t >= horizon]:
            del self._seen[key]

    @staticmethod
    def _evidence(out: _Outgoing, **extra: Any) -> dict[str, Any]:
        return {
            "aprs_to": out.addressee,
            "aprs_msgnos": [p.msgno for p in out.parts],
            "transmissions": out.transmissions,
            **extra,
        }
