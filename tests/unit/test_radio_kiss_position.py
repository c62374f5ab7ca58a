"""The APRS position codec (APRS 1.0.1 ch. 6, 8, 9): round trips, the spec's own examples,
ambiguity, timestamps, truncated and garbage input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.radio_kiss.aprs import AprsError
from adapters.radio_kiss.aprs_position import AprsTime, encode_position, observed_at, parse_position

HUNDREDTH_MINUTE = 1 / 6000  # degrees: the resolution of an uncompressed position
lats = st.floats(-90, 90, allow_nan=False)
lons = st.floats(-180, 180, allow_nan=False)


@given(lats, lons, st.booleans(), st.booleans())
def test_round_trip_uncompressed_within_a_hundredth_of_a_minute(lat, lon, messaging, stamped):
    ts = AprsTime(hour=12, minute=34, day=5) if stamped else None
    fix = parse_position(encode_position(lat, lon, messaging=messaging, timestamp=ts, comment="ENG-2"))
    assert fix is not None and not fix.compressed
    assert abs(fix.lat - lat) <= HUNDREDTH_MINUTE / 2 + 1e-9
    assert abs(fix.lon - lon) <= HUNDREDTH_MINUTE / 2 + 1e-9
    assert (fix.messaging, fix.timestamp, fix.comment) == (messaging, ts, "ENG-2")


@given(lats, lons)
def test_round_trip_compressed(lat, lon):
    fix = parse_position(encode_position(lat, lon, compressed=True, symbol="\\k"))
    assert fix is not None and fix.compressed and fix.symbol == "\\k"
    assert abs(fix.lat - lat) < 1e-5 and abs(fix.lon - lon) < 1e-5


def test_the_specs_examples():
    # ch. 8: "!4903.50N/07201.75W-Test 001234"
    fix = parse_position(b"!4903.50N/07201.75W-Test 001234")
    assert fix is not None
    assert (round(fix.lat, 6), round(fix.lon, 6), fix.symbol) == (49.058333, -72.029167, "/-")
    assert fix.comment == "Test 001234" and not fix.messaging
    # ch. 9: "/5L!!<*e7>7P[" is 49 30' N, 72 45' W
    fix = parse_position(b"=/5L!!<*e7>7P[")
    assert fix is not None and fix.compressed and fix.messaging
    assert (round(fix.lat, 4), round(fix.lon, 4)) == (49.5, -72.75)
    # ch. 8: overlay symbols, southern and eastern hemispheres
    fix = parse_position(b"/092345z4903.50S907201.75E#")
    assert fix is not None and (fix.lat < 0 < fix.lon) and fix.symbol == "9#"
    assert fix.timestamp == AprsTime(hour=23, minute=45, day=9)


def test_a_comment_in_utf8_is_kept():
    fix = parse_position("!4903.50N/07201.75W-café".encode())
    assert fix is not None and fix.comment == "café"


def test_ambiguity_gives_the_centre_of_the_box():
    fix = parse_position(b"!4903.  N/07201.  W-")
    assert fix is not None and fix.ambiguity == 2
    assert (round(fix.lat, 6), round(fix.lon, 6)) == (49.058333, -72.025)  # 49 03.5', 72 01.5'
    fix = parse_position(b"!49  .  N/072  .  W-")
    assert fix is not None and fix.ambiguity == 4 and (fix.lat, fix.lon) == (49.5, -72.5)


def test_timestamps_are_dated_the_latest_moment_not_after_now():
    now = datetime(2026, 3, 1, 0, 10, tzinfo=UTC).timestamp()
    # the 28th at 23:50 is last month's (February 2026)
    assert observed_at(AprsTime(hour=23, minute=50, day=28), now) == datetime(
        2026, 2, 28, 23, 50, tzinfo=UTC
    ).timestamp()
    # 23:59:30 HMS is yesterday's; 00:09:00 is today's
    assert observed_at(AprsTime(hour=23, minute=59, second=30), now) == datetime(
        2026, 2, 28, 23, 59, 30, tzinfo=UTC
    ).timestamp()
    assert observed_at(AprsTime(hour=0, minute=9), now) == datetime(2026, 3, 1, 0, 9, tzinfo=UTC).timestamp()
    # local time without a zone, and no timestamp: no observation time
    assert observed_at(AprsTime(hour=1, minute=2, day=1, zulu=False), now) is None
    assert observed_at(None, now) is None
    # the 31st in a month of 30 days: the month before that has one
    april = datetime(2026, 4, 30, 12, 0, tzinfo=UTC).timestamp()
    assert observed_at(AprsTime(hour=1, minute=0, day=31), april) == datetime(
        2026, 3, 31, 1, 0, tzinfo=UTC
    ).timestamp()


def test_other_packet_types_are_not_positions():
    for info in (b"", b":N0GW-10  :hello{1", b">status", b"`(_fn\"Oj/]", b"T#005,199,000"):
        assert parse_position(info) is None


@pytest.mark.parametrize(
    "info",
    [
        b"!4903.50N/07201.75W",  # truncated: no symbol code
        b"!4903.50N",
        b"=/5L!!<*e7>7P",  # compressed, one byte short
        b"@0923",  # timestamp truncated
        b"@992345z4903.50N/07201.75W>",  # day 99
        b"/092399z4903.50N/07201.75W>",  # minute 99
        b"!9103.50N/07201.75W-",  # latitude 91
        b"!4963.50N/07201.75W-",  # 63 minutes
        b"!4903.50N/18101.75W-",  # longitude 181
        b"!4903.50X/07201.75W-",  # no hemisphere
        b"!49 3.50N/07201.75W-",  # a blank before a digit: not ambiguity
        b"!4903.50N|07201.75W-",  # no such symbol table
        b"!4903.50N/07201.75W\xff",
        b"=/5L!\x7f<*e7>7P[",  # outside base 91
    ],
)
def test_malformed_positions_raise_a_typed_error(info):
    with pytest.raises(AprsError):
        parse_position(info)


@given(st.binary(max_size=40))
def test_garbage_never_raises_anything_else(data):
    try:
        fix = parse_position(data)
    except AprsError:
        return
    assert fix is None or (-90 <= fix.lat <= 90 and -180 <= fix.lon <= 180)


def test_what_cannot_be_encoded_is_refused():
    for kwargs in ({"lat": 91.0, "lon": 0.0}, {"lat": 0.0, "lon": 0.0, "symbol": "/"}):
        with pytest.raises(AprsError):
            encode_position(**kwargs)
    with pytest.raises(AprsError):
        encode_position(0.0, 0.0, timestamp=AprsTime(hour=1, minute=2, day=3, zulu=False))
