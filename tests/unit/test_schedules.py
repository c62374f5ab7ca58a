"""On-call schedules: hand-over, overrides, holidays, a daylight-saving change, gaps, plans, iCalendar."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from gateway.domain.models import Endpoint
from gateway.schedules import Override, Schedule, gaps, ics, on_call_now_and_next, resolve_plan, shifts

LONDON = ZoneInfo("Europe/London")


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> float:
    return datetime(y, mo, d, h, mi, tzinfo=LONDON).timestamp()


DAILY = Schedule(
    id="duty", members=("ann", "bob", "cat"), time_zone="Europe/London", rotation="daily",
    handover=time(8, 0), start=date(2026, 3, 1),
)  # fmt: skip


def test_the_rotation_hands_over_at_the_local_time():
    assert DAILY.who(at(2026, 3, 1, 7, 59)) is None  # before the first shift
    assert DAILY.who(at(2026, 3, 1, 8, 0)) == "ann"
    assert DAILY.who(at(2026, 3, 2, 7, 59)) == "ann"
    assert DAILY.who(at(2026, 3, 2, 8, 0)) == "bob"
    assert DAILY.who(at(2026, 3, 4, 9, 0)) == "ann"  # round again


def test_the_hand_over_stays_at_08_00_across_the_clocks_going_forward():
    # Europe/London goes from GMT to BST at 01:00 UTC on 29 March 2026: that shift is 23 h long.
    before, after = at(2026, 3, 28, 8), at(2026, 3, 29, 8)
    assert (after - before) / 3600 == 23
    assert DAILY.who(after - 60) != DAILY.who(after)
    assert datetime.fromtimestamp(after, LONDON).hour == 8
    (shift,) = [s for s in shifts(DAILY, before, after + 1) if s.start == before]
    assert shift.end == after


def test_weekly_rotation_on_a_weekday():
    weekly = Schedule(id="w", members=("ann", "bob"), time_zone="Europe/London", start=date(2026, 3, 2))
    assert weekly.who(at(2026, 3, 2, 8)) == "ann"  # a Monday
    assert weekly.who(at(2026, 3, 8, 23)) == "ann"
    assert weekly.who(at(2026, 3, 9, 8)) == "bob"


def test_an_override_covers_and_a_swap_is_two_overrides():
    cover = Override("dan", at(2026, 3, 2, 12), at(2026, 3, 2, 18))
    swap = (
        Override("cat", at(2026, 3, 3, 8), at(2026, 3, 4, 8)),
        Override("bob", at(2026, 3, 4, 8), at(2026, 3, 5, 8)),
    )
    s = Schedule(**{**_fields(DAILY), "overrides": (cover, *swap)})
    assert [s.who(at(2026, 3, 2, h)) for h in (11, 12, 17, 18)] == ["bob", "dan", "dan", "bob"]
    assert s.who(at(2026, 3, 3, 9)) == "cat" and s.who(at(2026, 3, 4, 9)) == "bob"
    assert [s.cover(at(2026, 3, 2, h)) for h in (11, 12, 18)] == ["rotation", "override", "rotation"]


def test_a_holiday_member_and_a_gap():
    s = Schedule(
        **{**_fields(DAILY), "holidays": (date(2026, 3, 10),), "holiday_member": "eve",
           "overrides": (Override("", at(2026, 3, 12, 20), at(2026, 3, 12, 22)),)}
    )  # fmt: skip
    assert s.who(at(2026, 3, 10, 0, 30)) == "eve" and s.who(at(2026, 3, 10, 23, 59)) == "eve"
    (gap,) = gaps(s, at(2026, 3, 9, 0), days=14)
    assert (gap.start, gap.end) == (at(2026, 3, 12, 20), at(2026, 3, 12, 22))
    now, following = on_call_now_and_next(s, at(2026, 3, 12, 19))
    assert now.member == "cat" and following is not None and following.member is None
    assert s.cover(at(2026, 3, 10, 12)) == "holiday" and s.cover(at(2026, 3, 12, 21)) == "override"
    assert DAILY.cover(at(2026, 3, 1, 7)) is None  # before the first shift: nobody, for no reason


def test_a_plan_naming_a_schedule_is_the_on_call_persons_plan():
    people = {"bob": [Endpoint("sms", "+447700900002"), Endpoint("mail", "bob@field.test")]}
    plan = [Endpoint("radio", "R1"), Endpoint("schedule", "duty")]
    out, who = resolve_plan(plan, {"duty": DAILY}, people, at(2026, 3, 2, 9))
    assert out == [Endpoint("radio", "R1"), *people["bob"]] and who == {"duty": "bob"}
    out, who = resolve_plan(plan, {"duty": DAILY}, people, at(2026, 2, 1, 9))
    assert out == [Endpoint("radio", "R1")] and who == {"duty": None}


def test_the_ics_export_lists_the_shifts():
    text = ics(DAILY, at(2026, 3, 1, 8), days=3, names={"ann": "Ann A"}).decode()
    assert text.count("BEGIN:VEVENT") == 3
    assert "SUMMARY:On call: Ann A" in text and "TZID=Europe/London" in text


def _fields(s: Schedule) -> dict[str, object]:
    return {k: getattr(s, k) for k in s.__slots__}  # type: ignore[attr-defined]
