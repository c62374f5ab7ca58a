"""Delivery receipts (SMPP 3.4 Appendix B, §5.2.12) matched to what was sent, sans-I/O.

A message may go as several UDH parts, each with its own SMSC message_id (§4.4.2). `Track` holds
one message's parts; `ReceiptTracker` remembers which message each id belongs to and turns the
part receipts into one `Report` per message: delivered once every part is, failed at the first
final failure. Receipts for ids it does not know (sent before a restart, or forgotten) are
reported under their own id, once.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from adapters.smpp import content

TRACK_LIMIT = 20_000  # part ids remembered for matching receipts
REPORTED_LIMIT = 4_096  # receipts for unknown ids remembered to drop duplicates


@dataclass(eq=False)
class Track:
    """One outbound message, to turn part receipts into one report."""

    total: int
    ids: dict[int, str] = field(default_factory=dict)  # part index -> SMSC message_id
    delivered: set[str] = field(default_factory=set)
    failure: tuple[str, dict[str, Any]] | None = None
    reported: bool = False

    @property
    def channel_ref(self) -> str | None:
        return self.ids.get(0)


@dataclass(frozen=True, slots=True)
class Report:
    """The final outcome of one message, named by its first part's message_id."""

    channel_ref: str
    delivered: bool
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


class ReceiptTracker:
    """Bounded memory of message ids; `radix` says how receipt text prints them."""

    def __init__(
        self,
        radix: content.RadixMode = "same",
        *,
        track_limit: int = TRACK_LIMIT,
        reported_limit: int = REPORTED_LIMIT,
    ) -> None:
        self.radix = radix
        self.track_limit = track_limit
        self.reported_limit = reported_limit
        self._by_id: OrderedDict[str, Track] = OrderedDict()
        self._reported: OrderedDict[str, None] = OrderedDict()

    def accepted(self, track: Track, index: int, message_id: str) -> Report | None:
        """Part `index` of `track` was accepted under `message_id` (submit_sm_resp, §4.4.2)."""
        track.ids[index] = message_id
        self._by_id[message_id.lower()] = track
        while len(self._by_id) > self.track_limit:
            self._by_id.popitem(last=False)
        return self._outcome(track)

    def receipt(self, receipt: content.Receipt) -> Report | None:
        """A final receipt (intermediate ones give nothing): the report it completes, if any."""
        if not receipt.final:
            return None
        ref = content.receipt_reference(receipt, self.radix)
        evidence: dict[str, Any] = {"smpp_message_id": ref, "stat": receipt.stat, "err": receipt.err}
        reason = "" if receipt.delivered else f"{receipt.stat} err:{receipt.err or '-'}"
        track = self._by_id.get(ref.lower())
        if track is None:  # not ours (any more): report it under its own id, once
            if ref in self._reported:
                return None
            self._reported[ref] = None
            while len(self._reported) > self.reported_limit:
                self._reported.popitem(last=False)
            return Report(ref, delivered=receipt.delivered, reason=reason, evidence=evidence)
        if receipt.delivered:
            track.delivered.add(ref.lower())
        elif track.failure is None:
            track.failure = (reason, evidence)
        return self._outcome(track)

    def _outcome(self, t: Track) -> Report | None:
        ref = t.channel_ref
        if t.reported or ref is None:
            return None
        if t.failure is not None:
            reason, evidence = t.failure
            t.reported = True
            return Report(ref, delivered=False, reason=reason, evidence=evidence)
        if len(t.ids) == t.total and all(i.lower() in t.delivered for i in t.ids.values()):
            t.reported = True
            evidence = {"smpp_message_id": ref, "stat": "DELIVRD"}
            if t.total > 1:
                evidence["parts"] = t.total
            return Report(ref, delivered=True, evidence=evidence)
        return None
