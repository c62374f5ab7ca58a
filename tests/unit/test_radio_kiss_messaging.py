"""APRS messaging without I/O: numbering, retries on a schedule, acks, rejects, copies."""

from __future__ import annotations

import pytest

from adapters.base import DeliveryReport, InboundText, PositionReport
from adapters.radio_kiss.aprs import (
    AprsAck,
    AprsError,
    AprsMessage,
    encode_ack,
    encode_message,
    encode_reject,
    parse_info,
)
from adapters.radio_kiss.framing import Address, UIFrame
from adapters.radio_kiss.messaging import Messenger

ME = Address.parse("N0GW-10")
UNIT = "N0CALL-7"


def messenger(**kw) -> Messenger:
    kw.setdefault("retry_intervals", (8, 16, 32))
    kw.setdefault("first_msgno", 17)
    return Messenger(station=ME, destination=Address.parse("APZCLO"), path=[Address.parse("WIDE1-1")], **kw)


def heard(source: str, info: bytes) -> UIFrame:
    return UIFrame.command(Address.parse("APRS"), Address.parse(source), (), info)


def infos(frames) -> list[bytes]:
    return [f.info for f in frames]


def test_each_part_gets_its_own_number_and_the_ref_names_the_first():
    m = messenger()
    sub = m.submit("n0call-7", ["1/2 INC-2026-000042 P1", "2/2 1 High St"], now=0)
    assert sub.ref == "N0CALL-7:17" and sub.msgnos == ("17", "18")
    assert infos(sub.frames) == [b":N0CALL-7 :1/2 INC-2026-000042 P1{17", b":N0CALL-7 :2/2 1 High St{18"]
    assert sub.frames[0].tnc2() == "N0GW-10>APZCLO,WIDE1-1::N0CALL-7 :1/2 INC-2026-000042 P1{17"
    assert m.submit(UNIT, ["next"], now=0).msgnos == ("19",)


def test_delivered_only_when_every_part_is_acked():
    m = messenger()
    sub = m.submit(UNIT, ["a", "b"], now=0)
    assert m.receive(heard(UNIT, encode_ack("N0GW-10", "18")), now=1).events == []
    (report,) = m.receive(heard(UNIT, encode_ack("N0GW-10", "17")), now=2).events
    assert report == DeliveryReport(
        sub.ref,
        delivered=True,
        evidence={"aprs_to": UNIT, "aprs_msgnos": ["17", "18"], "transmissions": 1},
    )
    assert m.pending == 0
    assert m.receive(heard(UNIT, encode_ack("N0GW-10", "17")), now=3).ignored  # a late copy


def test_retransmits_unacked_parts_on_the_schedule_then_reports_failure():
    m = messenger()
    sub = m.submit(UNIT, ["a", "b"], now=100)
    m.receive(heard(UNIT, encode_ack("N0GW-10", "17")), now=101)
    assert m.next_due() == 108
    assert m.poll(107.9).frames == []
    again = m.poll(108)
    assert infos(again.frames) == [b":N0CALL-7 :b{18"]  # only the part still unacked
    assert m.next_due() == 108 + 16
    assert infos(m.poll(124).frames) == [b":N0CALL-7 :b{18"]
    assert m.next_due() == 124 + 32
    assert m.poll(155).events == []
    final = m.poll(156)
    assert final.frames == []
    (report,) = final.events
    assert report.channel_ref == sub.ref and report.delivered is False
    assert report.reason == "no APRS ack from N0CALL-7 after 3 transmissions in 56s"
    assert report.evidence["unacked"] == ["18"]
    assert m.pending == 0 and m.next_due() is None


def test_a_reject_fails_the_message_at_once():
    m = messenger()
    sub = m.submit(UNIT, ["a", "b"], now=0)
    (report,) = m.receive(heard(UNIT, encode_reject("N0GW-10", "18")), now=1).events
    assert (report.channel_ref, report.delivered, report.reason) == (
        sub.ref,
        False,
        "rejected by N0CALL-7 (rej18)",
    )
    assert m.pending == 0


def test_acks_from_another_station_or_to_another_station_do_not_count():
    m = messenger()
    m.submit(UNIT, ["a"], now=0)
    assert m.receive(heard("N0CALL-8", encode_ack("N0GW-10", "17")), now=1).events == []
    assert m.receive(heard(UNIT, encode_ack("N0GW-11", "17")), now=1).ignored == "message for N0GW-11"
    assert m.pending == 1


def test_incoming_message_is_acked_every_time_and_emitted_once():
    m = messenger()
    first = m.receive(heard(UNIT, encode_message("N0GW-10", "EN ROUTE", "5")), now=0)
    assert infos(first.frames) == [b":N0CALL-7 :ack5"]
    assert first.events == [InboundText(UNIT, "EN ROUTE", evidence={"aprs_from": UNIT, "aprs_msgno": "5"})]
    copy = m.receive(heard(UNIT, encode_message("N0GW-10", "EN ROUTE", "5")), now=20)
    assert infos(copy.frames) == [b":N0CALL-7 :ack5"] and copy.events == []
    # Another station may use the same number.
    other = m.receive(heard("N0CALL-8", encode_message("N0GW-10", "ACK", "5")), now=21)
    assert [e.address for e in other.events] == ["N0CALL-8"]
    # Long after the window the same number is a new message (the station's counter wrapped).
    late = m.receive(heard(UNIT, encode_message("N0GW-10", "ON SCENE", "5")), now=1000)
    assert [e.text for e in late.events] == ["ON SCENE"]


def test_unnumbered_message_is_not_acked_and_copies_within_30s_are_dropped():
    m = messenger()
    one = m.receive(heard(UNIT, encode_message("N0GW-10", "ACK")), now=0)
    assert one.frames == [] and [e.text for e in one.events] == ["ACK"]
    assert m.receive(heard(UNIT, encode_message("N0GW-10", "ACK")), now=10).events == []
    assert len(m.receive(heard(UNIT, encode_message("N0GW-10", "ACK")), now=31).events) == 1


def test_reply_ack_in_a_message_acks_our_message():
    m = messenger(first_msgno=42)
    sub = m.submit(UNIT, ["page"], now=0)
    reaction = m.receive(heard(UNIT, b":N0GW-10  :ACK{AB}42"), now=1)
    assert [type(e).__name__ for e in reaction.events] == ["DeliveryReport", "InboundText"]
    assert reaction.events[0] == DeliveryReport(
        sub.ref, delivered=True, evidence={"aprs_to": UNIT, "aprs_msgnos": ["42"], "transmissions": 1}
    )
    assert infos(reaction.frames) == [b":N0CALL-7 :ackAB"]


def test_our_own_echo_and_other_traffic_are_not_messages_for_us():
    m = messenger()
    assert m.receive(heard("N0GW-10", encode_message(UNIT, "x", "1")), now=0).echo
    assert m.receive(heard(UNIT, b">status text"), now=0).ignored == "neither an APRS message nor a position"
    assert m.receive(heard(UNIT, encode_message("N0GW", "x", "1")), now=0).ignored == "message for N0GW"


def test_a_position_report_becomes_one_event_and_its_digipeated_copy_none():
    m = messenger()
    (event,) = m.receive(heard(UNIT, b"@092345z4903.50N/07201.75W>"), now=0, wall=1_765_324_000.0).events
    assert isinstance(event, PositionReport)
    assert event.address == UNIT
    assert (round(event.lat, 5), round(event.lon, 5)) == (49.05833, -72.02917)
    assert event.observed_at == 1_765_323_900.0  # 2025-12-09 23:45Z, the latest 9th 23:45 not ahead of us
    copy = m.receive(heard(UNIT, b"@092345z4903.50N/07201.75W>"), now=5)
    assert copy.events == [] and copy.ignored.startswith("copy of a position")
    (later,) = m.receive(heard(UNIT, b"!4903.50N/07201.75W>"), now=6).events
    assert later.observed_at is None  # no timestamp: the core dates it on receipt


def test_malformed_message_raises_a_typed_error():
    with pytest.raises(AprsError):
        messenger().receive(heard(UNIT, b":N0GW-10:ack1"), now=0)


def test_bad_addressee_is_refused_and_withdraw_forgets():
    m = messenger()
    with pytest.raises(AprsError):
        m.submit("not a call", ["x"], now=0)
    sub = m.submit("N0CALL-0", ["x"], now=0)
    assert sub.ref == "N0CALL:17"  # SSID 0 is written without it, as stations send it
    m.withdraw(sub.ref)
    assert m.pending == 0
    assert m.receive(heard("N0CALL", encode_ack("N0GW-10", "17")), now=1).ignored


def test_texts_are_sanitised_and_numbers_wrap_after_99999():
    m = messenger(first_msgno=99_999)
    sub = m.submit(UNIT, ["Café {x}", "b"], now=0)
    assert sub.msgnos == ("99999", "1")
    assert parse_info(sub.frames[0].info) == AprsMessage(UNIT, "Cafe (x}", "99999")


def test_tactical_addressee_and_no_parts():
    m = messenger()
    sub = m.submit("EOC-NORTH", [], now=0)
    assert parse_info(sub.frames[0].info) == AprsMessage("EOC-NORTH", "", "17")
    assert isinstance(parse_info(encode_ack("EOC-NORTH", "17")), AprsAck)


def test_bad_schedule_is_refused():
    with pytest.raises(ValueError, match="retry_intervals"):
        messenger(retry_intervals=())
