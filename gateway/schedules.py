"""On-call schedules: who is on call at a given time (pure; times are passed in, docs/style.md
practice 7).

A schedule rotates its members (stakeholder ids: people with contact plans) at a hand-over time
of its own time zone, every day or every week on one weekday, from a start date; the first
member holds the first shift. Hand-overs are wall-clock times (08:00 stays 08:00 across a
daylight-saving change), computed with `dateutil.rrule` on local times and `zoneinfo`.

On top of the rotation, in this order of strength:

- holidays: on a listed local date the `holiday_member` is on call from midnight to midnight
  (none named: the rotation goes on);
- overrides: a member covers from `start` to `end` (a swap is two overrides); member "" means
  nobody, an intended gap. The last override that covers a time wins.

A contact-plan entry `{ schedule = "duty" }` is replaced, when the delivery is created, by the
contact plan of whoever is on call then (gateway/services/deliveries.py); an escalation that
dispatches again resolves again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from dateutil import rrule

from gateway.domain.models import Endpoint

SCHEDULE_CHANNEL = "schedule"  # an Endpoint on this pseudo-channel names a schedule by address
WEEKDAYS = {
    "MO": rrule.MO,
    "TU": rrule.TU,
    "WE": rrule.WE,
    "TH": rrule.TH,
    "FR": rrule.FR,
    "SA": rrule.SA,
    "SU": rrule.SU,
}


@dataclass(frozen=True, slots=True)
class Override:
    member: str  # "" : nobody
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Schedule:
    id: str
    members: tuple[str, ...]
    time_zone: str = "UTC"
    rotation: Literal["daily", "weekly"] = "weekly"
    handover: time = time(8, 0)
    handover_day: str = "MO"  # weekly rotations
    start: date = date(2026, 1, 5)
    overrides: tuple[Override, ...] = ()
    holidays: tuple[date, ...] = ()
    holiday_member: str = ""
    name: str = ""
    p1: bool = True  # check-config warns about gaps in its cover

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def _rule(self) -> rrule.rrule:
        first = datetime.combine(self.start, self.handover)
        if self.rotation == "daily":
            return rrule.rrule(rrule.DAILY, dtstart=first)
        day = WEEKDAYS[self.handover_day]
        return rrule.rrule(rrule.WEEKLY, byweekday=day, dtstart=first)

    def _local(self, at: float) -> datetime:
        return datetime.fromtimestamp(at, self.zone).replace(tzinfo=None)

    def _instant(self, local: datetime) -> float:
        return local.replace(tzinfo=self.zone).timestamp()

    def rotation_member(self, at: float) -> tuple[str | None, float | None]:
        """The rotation's member at `at` and when their shift began (None before the start)."""
        local = self._local(at)
        handovers = self._rule().between(datetime.combine(self.start, self.handover), local, inc=True)
        if not handovers:
            return None, None
        return self.members[(len(handovers) - 1) % len(self.members)], self._instant(handovers[-1])

    def who(self, at: float) -> str | None:
        """Who is on call at `at`; None when nobody is."""
        for o in reversed(self.overrides):
            if o.start <= at < o.end:
                return o.member or None
        if self.holiday_member and self._local(at).date() in self.holidays:
            return self.holiday_member
        return self.rotation_member(at)[0]

    def cover(self, at: float) -> Literal["override", "holiday", "rotation"] | None:
        """Why whoever is on call at `at` is: an override, the holiday member or the rotation."""
        if any(o.start <= at < o.end for o in self.overrides):
            return "override"
        if self.holiday_member and self._local(at).date() in self.holidays:
            return "holiday"
        return "rotation" if self.rotation_member(at)[0] else None

    def boundaries(self, start: float, end: float) -> list[float]:
        """Every time in [start, end) where who is on call may change, with `start` first."""
        marks = {start}
        first, last = self._local(start), self._local(end)
        marks.update(self._instant(h) for h in self._rule().between(first, last, inc=True))
        for o in self.overrides:
            marks.update((o.start, o.end))
        for d in self.holidays:
            midnight = datetime.combine(d, time())
            marks.update((self._instant(midnight), self._instant(midnight + timedelta(days=1))))
        return sorted(m for m in marks if start <= m < end)


@dataclass(frozen=True, slots=True)
class Shift:
    member: str | None
    start: float
    end: float


def shifts(schedule: Schedule, start: float, end: float) -> list[Shift]:
    """Who is on call over [start, end), as consecutive shifts (nobody: member None)."""
    marks = schedule.boundaries(start, end)
    out: list[Shift] = []
    for i, mark in enumerate(marks):
        until = marks[i + 1] if i + 1 < len(marks) else end
        member = schedule.who(mark)
        if out and out[-1].member == member:
            out[-1] = Shift(member, out[-1].start, until)
        else:
            out.append(Shift(member, mark, until))
    return out


def gaps(schedule: Schedule, start: float, days: float = 14) -> list[Shift]:
    return [s for s in shifts(schedule, start, start + days * 86400) if s.member is None]


def on_call_now_and_next(
    schedule: Schedule, at: float, horizon_days: float = 60
) -> tuple[Shift, Shift | None]:
    """The shift that holds `at` (from when it really began, looking back up to 35 days) and the
    one after it (within `horizon_days`)."""
    found = shifts(schedule, at - 35 * 86400, at + horizon_days * 86400)
    i = next(i for i, s in enumerate(found) if s.start <= at < s.end)
    return found[i], found[i + 1] if i + 1 < len(found) else None


def resolve_plan(
    plan: Sequence[Endpoint],
    schedules: Mapping[str, Schedule],
    people: Mapping[str, Sequence[Endpoint]],
    at: float,
) -> tuple[list[Endpoint], dict[str, str | None]]:
    """The plan with each schedule entry replaced by the on-call person's endpoints, and who
    was on call for each schedule named (None: nobody; the entry is then dropped)."""
    out: list[Endpoint] = []
    resolved: dict[str, str | None] = {}
    for ep in plan:
        if ep.channel != SCHEDULE_CHANNEL:
            out.append(ep)
            continue
        schedule = schedules.get(ep.address)
        member = schedule.who(at) if schedule is not None else None
        resolved[ep.address] = member
        out.extend(people.get(member, ()) if member else ())
    return out, resolved


def ics(schedule: Schedule, start: float, days: float = 28, names: Mapping[str, str] | None = None) -> bytes:
    """The schedule's shifts as an iCalendar file (RFC 5545) for calendar apps."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//callout//on-call schedule//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"On call: {schedule.name or schedule.id}")
    for s in shifts(schedule, start, start + days * 86400):
        if s.member is None:
            continue
        event = Event()
        event.add("uid", f"{schedule.id}-{int(s.start)}@callout")
        event.add("summary", f"On call: {(names or {}).get(s.member, s.member)}")
        event.add("dtstart", datetime.fromtimestamp(s.start, schedule.zone))
        event.add("dtend", datetime.fromtimestamp(s.end, schedule.zone))
        event.add("dtstamp", datetime.fromtimestamp(start, schedule.zone))
        cal.add_component(event)
    return bytes(cal.to_ical())


def schedules_from_config(entries: Sequence[Any]) -> dict[str, Schedule]:
    """`[[schedules]]` entries (gateway.settings.ScheduleConfig) as schedules."""
    out: dict[str, Schedule] = {}
    for e in entries:
        hours, minutes = (int(x) for x in e.handover.split(":"))
        out[e.id] = Schedule(
            id=e.id,
            name=e.name,
            members=tuple(e.members),
            time_zone=e.time_zone,
            rotation=e.rotation,
            handover=time(hours, minutes),
            handover_day=e.handover_day,
            start=e.start,
            overrides=tuple(Override(o.member, o.start.timestamp(), o.end.timestamp()) for o in e.overrides),
            holidays=tuple(e.holidays),
            holiday_member=e.holiday_member,
            p1=e.p1,
        )
    return out
