"""The desk's KPIs: average handling time and first-contact resolution (docs/architecture.md, "KPIs").

Average handling time (AHT): over every answered call that ended in the period (`call.ended` in
the audit trail, repeat calls linked to an open incident included), the time from answer to end;
overall and per desk (the desk that answered).

First-contact resolution (FCR), per *contact*: an incident that began with an answered call whose
call has ended, created in the period; not one merged into another (it is part of its
survivor's contact) nor one cancelled (a wrong number, a test call). Each contact is exactly one of:

- `dispatched`: a unit was sent (not resolved at the desk);
- `repeat`: the same caller came back within `cti.fcr_window` seconds of the first call (a call
  linked to the open incident, or a new incident from the same number), or a duplicate was
  merged into it: more than one contact was needed;
- `resolved`: resolved at the desk without a dispatch and no repeat; `provisional` counts those
  whose window has not yet passed (a repeat may still come);
- `open`: none of these yet (undecided, left out of the rate).

The rate is resolved / (resolved + dispatched + repeat). Pure functions over rows, so the
computation is tested with a manual clock; `read_desk_rows` reads the rows in the caller's
transaction and `desk_kpis` computes the figures from them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.clock import iso
from gateway.store import Tx

MAX_BUCKETS = 24  # points of a trend (a sparkline in the console)
OUTCOMES = ("resolved", "dispatched", "repeat", "open")
UNKNOWN_DESK = "unknown"


@dataclass(frozen=True, slots=True)
class HandledCall:
    ended_at: float
    desk: str | None
    seconds: float


@dataclass(frozen=True, slots=True)
class Contact:
    """An incident that began with a call, as first-contact resolution sees it."""

    reference: str
    desk: str | None
    caller: str | None
    first_call_at: float
    call_ended: bool
    dispatched: bool
    resolved: bool
    cancelled: bool = False
    merged_into: str | None = None
    from_call: bool = True  # False: typed at the desk (it may still be a merged duplicate)


class Period:
    """From `since` to `until`, cut in `slices` equal parts for a trend: one an hour, at most
    MAX_BUCKETS."""

    __slots__ = ("since", "slices", "until", "width")

    def __init__(self, since: float, until: float) -> None:
        self.since, self.until = since, until
        self.slices = min(MAX_BUCKETS, max(1, round((until - since) / 3600)))
        self.width = (until - since) / self.slices

    def starts(self) -> list[str | None]:
        return [iso(self.since + i * self.width) for i in range(self.slices)]

    def slice_of(self, at: float) -> int:
        """The slice `at` falls in (the period's end in the last one)."""
        if self.width <= 0:
            return 0
        i = int((at - self.since) // self.width)
        last = self.slices - 1
        return 0 if i < 0 else (i if i < last else last)


def _average(values: Sequence[float]) -> dict[str, Any]:
    return {"calls": len(values), "average_seconds": round(sum(values) / len(values), 1) if values else None}


def handling(calls: Sequence[HandledCall], period: Period) -> dict[str, Any]:
    """AHT overall, per desk, and per slice of the period (the trend)."""
    per: dict[str, list[float]] = {}
    for c in calls:
        per.setdefault(c.desk or UNKNOWN_DESK, []).append(c.seconds)
    sliced: list[list[float]] = [[] for _ in range(period.slices)]
    for c in calls:
        sliced[period.slice_of(c.ended_at)].append(c.seconds)
    trend = [{"start": start, **_average(v)} for start, v in zip(period.starts(), sliced, strict=True)]
    return {
        "overall": _average([c.seconds for c in calls]),
        "desks": {d: _average(v) for d, v in sorted(per.items())},
        "trend": trend,
    }


class Repeats:
    """Where repeat contacts are looked up: each lookup is a bisection, not a scan, so a day of a
    busy desk's calls is judged in one pass at every scrape."""

    def __init__(self, contacts: Sequence[Contact], linked: Sequence[tuple[str, float]]) -> None:
        self.calls: dict[str, list[float]] = {}  # caller -> first-call times of its call incidents
        for o in contacts:
            if o.from_call and o.caller is not None:
                self.calls.setdefault(o.caller, []).append(o.first_call_at)
        self.linked: dict[str, list[float]] = {}  # reference -> times of the calls linked to it
        for ref, at in linked:
            self.linked.setdefault(ref, []).append(at)
        for times in (*self.calls.values(), *self.linked.values()):
            times.sort()
        self.merged_into = {o.merged_into for o in contacts if o.merged_into}

    @staticmethod
    def _any_in(times: list[float], after: float, until: float) -> bool:
        i = bisect_right(times, after)
        return i < len(times) and times[i] <= until

    def after(self, c: Contact, window: float) -> bool:
        """Another contact in (first call, first call + window], or a duplicate merged into it."""
        end = c.first_call_at + window
        return (
            c.reference in self.merged_into
            or self._any_in(self.linked.get(c.reference, []), c.first_call_at, end)
            or (c.caller is not None and self._any_in(self.calls.get(c.caller, []), c.first_call_at, end))
        )


def outcome(c: Contact, repeats: Repeats, window: float) -> str:
    """One of OUTCOMES for an eligible contact."""
    if c.dispatched:
        return "dispatched"
    if repeats.after(c, window):
        return "repeat"
    return "resolved" if c.resolved else "open"


def _rate(counts: Counter[str], provisional: int) -> dict[str, Any]:
    decided = counts["resolved"] + counts["dispatched"] + counts["repeat"]
    return {
        "contacts": sum(counts[k] for k in OUTCOMES),
        **{k: counts[k] for k in OUTCOMES},
        "provisional": provisional,
        "rate": round(counts["resolved"] / decided, 4) if decided else None,
    }


def first_contact(
    contacts: Sequence[Contact],
    linked: Sequence[tuple[str, float]],
    *,
    period: Period,
    now: float,
    window: float,
) -> dict[str, Any]:
    """FCR overall, per desk, and per slice of the period (by the first call's time)."""
    eligible = [
        c
        for c in contacts
        if c.from_call
        and c.call_ended
        and not c.cancelled
        and c.merged_into is None
        and period.since <= c.first_call_at
    ]
    repeats = Repeats(contacts, linked)
    judged = [(c, outcome(c, repeats, window)) for c in eligible]

    def tally(mine: list[tuple[Contact, str]]) -> dict[str, Any]:
        counts = Counter(o for _, o in mine)
        provisional = sum(1 for c, o in mine if o == "resolved" and now < c.first_call_at + window)
        return _rate(counts, provisional)

    per_desk: dict[str, list[tuple[Contact, str]]] = {}
    sliced: list[list[tuple[Contact, str]]] = [[] for _ in range(period.slices)]
    for c, o in judged:
        per_desk.setdefault(c.desk or UNKNOWN_DESK, []).append((c, o))
        sliced[period.slice_of(c.first_call_at)].append((c, o))
    return {
        "window_seconds": window,
        "overall": tally(judged),
        "desks": {d: tally(v) for d, v in sorted(per_desk.items())},
        "trend": [{"start": start, **tally(v)} for start, v in zip(period.starts(), sliced, strict=True)],
    }


@dataclass(frozen=True, slots=True)
class DeskRows:
    """What the desk's KPIs are computed from, read in one transaction."""

    calls: list[HandledCall]
    contacts: list[Contact]
    linked: list[tuple[str, float]]


async def read_desk_rows(tx: Tx, since: float) -> DeskRows:
    calls = [HandledCall(r.at, r.desk, r.seconds) for r in await tx.handled_calls_since(since)]
    contacts = [
        Contact(
            reference=r.reference,
            desk=r.desk,
            caller=r.caller_number,
            first_call_at=r.call_answered_at if r.call_answered_at is not None else r.created_at,
            call_ended=r.call_ended_at is not None,
            dispatched=r.dispatched_at is not None,
            resolved=r.resolved_at is not None,
            cancelled=r.cancelled_at is not None,
            merged_into=r.merged_into,
            from_call=r.call_id is not None,
        )
        for r in await tx.call_contacts_since(since)
    ]
    linked = [(r.reference, r.at) for r in await tx.linked_calls_since(since)]
    return DeskRows(calls, contacts, linked)


def desk_kpis(rows: DeskRows, period: Period, *, now: float, window: float) -> dict[str, Any]:
    """AHT and FCR over the period. Plain CPU work (a busy day is tens of thousands of rows):
    callers run it off the event loop, after the transaction (`asyncio.to_thread`)."""
    return {
        "handling": handling(rows.calls, period),
        "first_contact": first_contact(rows.contacts, rows.linked, period=period, now=now, window=window),
    }
