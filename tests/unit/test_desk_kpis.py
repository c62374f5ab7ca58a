"""The desk's KPIs computed from rows, the times read off a manual clock: average handling time
per desk and overall, and first-contact resolution with its repeat window."""

from __future__ import annotations

from dataclasses import replace

from gateway.clock import ManualClock
from gateway.services.desk_kpis import Contact, HandledCall, Period, first_contact, handling

HOUR = 3600.0
WINDOW = 2 * HOUR


def _contact(ref: str, at: float, **kw: object) -> Contact:
    base = Contact(
        reference=ref,
        desk="desk-1",
        caller=f"+4477009000{ref[-2:]}",
        first_call_at=at,
        call_ended=True,
        dispatched=False,
        resolved=True,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_handling_time_overall_per_desk_and_per_hour() -> None:
    clock = ManualClock()
    since = clock.now()
    calls = []
    for desk, took in (("desk-1", 90.0), ("desk-2", 120.0)):
        clock.advance(took)
        calls.append(HandledCall(clock.now(), desk, took))
    clock.advance(HOUR)  # the next hour
    calls.append(HandledCall(clock.now(), "desk-1", 30.0))
    clock.advance(HOUR - 240)
    calls.append(HandledCall(clock.now(), None, 60.0))
    clock.advance(30)  # the period ends here: three hours
    got = handling(calls, Period(since, since + 3 * HOUR))
    assert got["overall"] == {"calls": 4, "average_seconds": 75.0}
    assert got["desks"] == {
        "desk-1": {"calls": 2, "average_seconds": 60.0},
        "desk-2": {"calls": 1, "average_seconds": 120.0},
        "unknown": {"calls": 1, "average_seconds": 60.0},
    }
    assert [(p["calls"], p["average_seconds"]) for p in got["trend"]] == [(2, 105.0), (2, 45.0), (0, None)]


def test_no_call_means_no_average() -> None:
    got = handling([], Period(0.0, 8 * HOUR))
    assert got["overall"] == {"calls": 0, "average_seconds": None}
    assert got["desks"] == {}
    assert len(got["trend"]) == 8


def test_first_contact_outcomes_and_the_repeat_window() -> None:
    clock = ManualClock()
    since = clock.now()
    at = clock.now() + 60
    contacts = [
        _contact("INC-01", at),  # resolved at the desk, nobody called back
        _contact("INC-02", at, dispatched=True, resolved=False),  # a unit was sent
        _contact("INC-03", at),  # resolved, but the caller rang again within the window
        _contact("INC-04", at + WINDOW - 1, caller="+447700900003"),  # ... this is that call
        _contact("INC-05", at),  # resolved; the same caller rang again only after the window
        _contact("INC-06", at + WINDOW + 1, caller="+447700900005", resolved=False),
        _contact("INC-07", at),  # resolved, but a second call was linked to it while open
        _contact("INC-08", at, resolved=False),  # still open: undecided
        _contact("INC-09", at),  # resolved, but a duplicate was merged into it
        _contact("INC-10", at + 30, merged_into="INC-09", from_call=False),  # typed at the desk
        _contact("INC-11", at, call_ended=False),  # still on the phone: not judged yet
        _contact("INC-12", at, cancelled=True, resolved=False),  # a wrong number: left out
        _contact("INC-13", at, desk="desk-2"),  # resolved at another desk
    ]
    linked = [("INC-07", at + 600), ("INC-01", at + WINDOW + 60)]  # the second is too late to count
    clock.advance(WINDOW + 2 * HOUR)
    got = first_contact(contacts, linked, period=Period(since, clock.now()), now=clock.now(), window=WINDOW)
    # INC-04 is its own first contact (the earlier call from that number is not a repeat of
    # it), resolved, and its window runs past now: provisional.
    assert got["overall"] == {
        "contacts": 10,  # INC-10, -11 and -12 are not judged
        "resolved": 4,  # INC-01, -04, -05, -13
        "dispatched": 1,  # INC-02
        "repeat": 3,  # INC-03, -07, -09
        "open": 2,  # INC-06, -08
        "provisional": 1,  # INC-04
        "rate": 0.5,
    }
    assert got["window_seconds"] == WINDOW
    by_desk = got["desks"]
    assert by_desk["desk-2"]["resolved"] == 1 and by_desk["desk-2"]["rate"] == 1.0


def test_a_desk_resolution_is_provisional_until_its_window_passes() -> None:
    clock = ManualClock()
    since = clock.now()
    contacts = [_contact("INC-01", clock.now())]
    clock.advance(WINDOW / 2)
    period = Period(since, clock.now())
    got = first_contact(contacts, [], period=period, now=clock.now(), window=WINDOW)
    assert (got["overall"]["resolved"], got["overall"]["provisional"], got["overall"]["rate"]) == (1, 1, 1.0)
    # A repeat call inside the window turns it round...
    contacts.append(_contact("INC-02", clock.now(), caller=contacts[0].caller, resolved=False))
    got = first_contact(contacts, [], period=period, now=clock.now(), window=WINDOW)
    assert (got["overall"]["repeat"], got["overall"]["resolved"], got["overall"]["open"]) == (1, 0, 1)
    assert got["overall"]["rate"] == 0.0
    # ... and without one it is final once the window has passed.
    clock.advance(WINDOW)
    got = first_contact(contacts[:1], [], period=Period(since, clock.now()), now=clock.now(), window=WINDOW)
    assert (got["overall"]["resolved"], got["overall"]["provisional"]) == (1, 0)


def test_no_contact_means_no_rate_and_the_trend_follows_the_first_call() -> None:
    got = first_contact([], [], period=Period(0.0, 4 * HOUR), now=4 * HOUR, window=WINDOW)
    assert got["overall"]["rate"] is None and got["overall"]["contacts"] == 0
    contacts = [_contact("INC-01", 10.0), _contact("INC-02", 3 * HOUR + 5, dispatched=True, resolved=False)]
    got = first_contact(contacts, [], period=Period(0.0, 4 * HOUR), now=4 * HOUR, window=WINDOW)
    assert [p["rate"] for p in got["trend"]] == [1.0, None, None, 0.0]


def test_only_a_call_is_a_repeat_call() -> None:
    """An incident typed at the desk for the same number (a callback the desk made, a report
    passed on) is not the caller ringing again."""
    contacts = [
        _contact("INC-01", 10.0),
        _contact("INC-02", 20.0, caller="+447700900001", from_call=False, resolved=False),
    ]
    got = first_contact(contacts, [], period=Period(0.0, 3 * HOUR), now=3 * HOUR, window=WINDOW)
    assert (got["overall"]["resolved"], got["overall"]["repeat"], got["overall"]["contacts"]) == (1, 0, 1)
