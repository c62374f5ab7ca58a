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
computation is tested with a manual clock; `desk_kpis` reads the rows in the caller's transaction.
"""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class Period:
    since: float
    until: float

    def slices(self) -> int:
        """How many points a trend has: one an hour, at most MAX_BUCKETS."""
        return min(MAX_BUCKETS, max(1, round((self.until - self.since) / 3600)))

    def starts(self) -> list[str | None]:
        n = self.slices()
        return [iso(self.since + i * (self.until - self.since) / n) for i in range(n)]

    def slice_of(self, at: float) -> int:
        """The slice `at` falls in (the period's end in the last one)."""
        n = self.slices()
        width = (self.until - self.since) / n
        return max(0, min(n - 1, int((at - self.since) // width))) if width > 0 else 0


def _average(values: Sequence[float]) -> dict[str, Any]:
    return {"calls": len(values), "average_seconds": round(sum(values) / len(values), 1) if values else None}


def handling(calls: Sequence[HandledCall], period: Period) -> dict[str, Any]:
    """AHT overall, per desk, and per slice of the period (the trend)."""
    per: dict[str, list[float]] = {}
    for c in calls:
        per.setdefault(c.desk or UNKNOWN_DESK, []).append(c.seconds)
    sliced: list[list[float]] = [[] for _ in range(period.slices())]
    for c in calls:
        sliced[period.slice_of(c.ended_at)].append(c.seconds)
    trend = [{"start": start, **_average(v)} for start, v in zip(period.starts(), sliced, strict=True)]
    return {
        "overall": _average([c.seconds for c in calls]),
        "desks": {d: _average(v) for d, v in sorted(per.items())},
        "trend": trend,
    }


def outcome(
    c: Contact, contacts: Sequence[Contact], linked: Sequence[tuple[str, float]], window: float
) -> str:
    """One of OUTCOMES for an eligible contact; `linked`: (incident reference, when) of repeat
    calls linked to an open incident."""
    if c.dispatched:
        return "dispatched"
    end = c.first_call_at + window

    def within(at: float) -> bool:
        return c.first_call_at < at <= end

    again = (
        any(ref == c.reference and within(at) for ref, at in linked)
        or any(o.merged_into == c.reference for o in contacts)
        or (
            c.caller is not None
            and any(
                o.caller == c.caller and o.reference != c.reference and within(o.first_call_at)
                for o in contacts
            )
        )
    )
    if again:
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
    judged = [(c, outcome(c, contacts, linked, window)) for c in eligible]

    def tally(mine: list[tuple[Contact, str]]) -> dict[str, Any]:
        counts = Counter(o for _, o in mine)
        provisional = sum(1 for c, o in mine if o == "resolved" and now < c.first_call_at + window)
        return _rate(counts, provisional)

    per_desk: dict[str, list[tuple[Contact, str]]] = {}
    sliced: list[list[tuple[Contact, str]]] = [[] for _ in range(period.slices())]
    for c, o in judged:
        per_desk.setdefault(c.desk or UNKNOWN_DESK, []).append((c, o))
        sliced[period.slice_of(c.first_call_at)].append((c, o))
    return {
        "window_seconds": window,
        "overall": tally(judged),
        "desks": {d: tally(v) for d, v in sorted(per_desk.items())},
        "trend": [{"start": start, **tally(v)} for start, v in zip(period.starts(), sliced, strict=True)],
    }


async def desk_kpis(tx: Tx, period: Period, *, now: float, window: float) -> dict[str, Any]:
    """AHT and FCR over the period, read in the caller's transaction."""
    calls = [HandledCall(r.at, r.desk, r.seconds) for r in await tx.handled_calls_since(period.since)]
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
        for r in await tx.call_contacts_since(period.since)
    ]
    linked = [(r.reference, r.at) for r in await tx.linked_calls_since(period.since)]
    return {
        "handling": handling(calls, period),
        "first_contact": first_contact(contacts, linked, period=period, now=now, window=window),
    }
