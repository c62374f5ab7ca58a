"""Sans-I/O bookkeeping: which sent message a status report belongs to, and the reassembly of
incoming concatenated messages. Time is passed in."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.sms_modem.pdu import Deliver, StatusReport


def same_number(a: str, b: str) -> bool:
    """Two spellings of one number (+44 7700 900001 vs 07700900001): compare the last 9 digits."""
    da, db = "".join(c for c in a if c.isdigit()), "".join(c for c in b if c.isdigit())
    if not da or not db:
        return a.strip().lower() == b.strip().lower()
    n = min(9, len(da), len(db))
    return da[-n:] == db[-n:]


@dataclass
class _Sent:
    ref: str
    modem: str
    destination: str
    waiting: set[int]  # TP-MRs of parts without a final report yet
    mrs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A message's delivery is settled: all parts delivered, or one part failed for good."""

    channel_ref: str
    delivered: bool
    report: StatusReport
    parts: int


class PendingReports:
    """(modem, TP-MR) -> the message it belongs to. TP-MR is 0-255 per modem (TS 23.040 §9.2.3.6),
    so at most 256 entries per modem: a reused TP-MR replaces the message it belonged to before."""

    def __init__(self) -> None:
        self._by_mr: dict[tuple[str, int], _Sent] = {}

    def __len__(self) -> int:
        return len(self._by_mr)

    def expect(self, *, modem: str, mrs: list[int], destination: str, ref: str) -> None:
        sent = _Sent(ref, modem, destination, set(mrs), tuple(mrs))
        for mr in mrs:
            old = self._by_mr.get((modem, mr))
            if old is not None:
                old.waiting.discard(mr)  # the wrap overtook it: its report will never be matched
            self._by_mr[(modem, mr)] = sent

    def match(self, modem: str, report: StatusReport) -> Outcome | None:
        """The outcome this report settles, or None (still waiting, not final, unknown, stale)."""
        sent = self._by_mr.get((modem, report.mr))
        if sent is None or not same_number(sent.destination, report.recipient):
            return None
        if not report.final:
            return None  # TP-ST 0x20-0x3F: the SC is still trying (§9.2.3.15)
        if report.delivered:
            sent.waiting.discard(report.mr)
            del self._by_mr[(modem, report.mr)]
            if sent.waiting:
                return None
        else:
            self._forget(sent)
        return Outcome(sent.ref, report.delivered, report, len(sent.mrs))

    def _forget(self, sent: _Sent) -> None:
        for mr in sent.mrs:
            if self._by_mr.get((sent.modem, mr)) is sent:
                del self._by_mr[(sent.modem, mr)]


@dataclass
class _Partial:
    total: int
    first_seen: float
    parts: dict[int, Deliver] = field(default_factory=dict)


class Reassembly:
    """Joins the parts of incoming concatenated messages (TS 23.040 §9.2.3.24.1) by sender,
    reference and part count. Incomplete messages are given up after `timeout` seconds, and
    returned as they are so a reply is not lost because one part went missing."""

    def __init__(self, *, timeout: float, limit: int = 256) -> None:
        self.timeout = timeout
        self.limit = limit
        self._partial: dict[tuple[str, str, int, int], _Partial] = {}

    def add(self, modem: str, sms: Deliver, now: float) -> list[tuple[str, str, int]]:
        """Messages complete (or given up) now, as (sender, text, parts received)."""
        done = self.expire(now)
        if sms.concat is None or sms.concat.total == 1:
            return [*done, (sms.sender, sms.text, 1)]
        key = (modem, sms.sender, sms.concat.ref, sms.concat.total)
        partial = self._partial.setdefault(key, _Partial(sms.concat.total, now))
        partial.parts[sms.concat.seq] = sms
        if len(partial.parts) == partial.total:
            del self._partial[key]
            done.append(_joined(sms.sender, partial))
        elif len(self._partial) > self.limit:
            oldest = min(self._partial, key=lambda k: self._partial[k].first_seen)
            done.append(_joined(oldest[1], self._partial.pop(oldest)))
        return done

    def expire(self, now: float) -> list[tuple[str, str, int]]:
        late = [k for k, p in self._partial.items() if now - p.first_seen >= self.timeout]
        return [_joined(k[1], self._partial.pop(k)) for k in late]


def _joined(sender: str, partial: _Partial) -> tuple[str, str, int]:
    return sender, "".join(partial.parts[i].text for i in sorted(partial.parts)), len(partial.parts)
