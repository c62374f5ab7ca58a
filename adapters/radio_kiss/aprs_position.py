"""Sans-I/O APRS position reports (APRS 1.0.1 ch. 6, 8 and 9): the info field of a position
packet as latitude, longitude, symbol, timestamp and comment, and back.

References (APRS Protocol Reference 1.0.1, 2000):

- ch. 5, data type identifiers: `!` and `=` position without timestamp (`=`: the station does
  APRS messaging), `/` and `@` position with timestamp (`@`: with messaging).
- ch. 6, time formats: 7 characters, `DDHHMMz` (day, hours, minutes, zulu), `DDHHMM/` (local
  time: of no use without the station's zone, so read as no time), `HHMMSSh` (zulu).
- ch. 8, uncompressed position: `DDMM.hhN` + symbol table + `DDDMM.hhW` + symbol code, 19
  characters; position ambiguity replaces up to 4 trailing digits of the latitude by spaces (the
  longitude takes the same ambiguity); the centre of the ambiguous box is returned.
- ch. 9, compressed position: symbol table + `YYYY` + `XXXX` (base 91, each byte minus 33) +
  symbol code + `cs` + type byte, 13 characters; lat = 90 - YYYY / 380926, lon = -180 + XXXX /
  190463. The table is `/`, `\\`, an overlay `A-Z`, or `a-j` (overlay digits 0-9).

Mic-E (`` ` `` and `'`, ch. 10) and other packet types are not position reports here.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from adapters.radio_kiss.aprs import AprsError

__all__ = [
    "AprsPosition",
    "AprsTime",
    "encode_position",
    "observed_at",
    "parse_position",
]

_WITHOUT_TIME = {ord("!"): False, ord("="): True}  # identifier -> messaging (ch. 5)
_WITH_TIME = {ord("/"): False, ord("@"): True}
_TIME = re.compile(r"(\d{6})([zh/])")
_LAT = re.compile(r"([0-9 ]{2})([0-9 ]{2})\.([0-9 ]{2})([NS])")
_LON = re.compile(r"([0-9 ]{3})([0-9 ]{2})\.([0-9 ]{2})([EW])")
_UNCOMPRESSED_TABLE = re.compile(r"[/\\0-9A-Z]")
_COMPRESSED_TABLE = re.compile(r"[/\\A-Za-j]")
UNCOMPRESSED_LEN = 19
COMPRESSED_LEN = 13
_FUTURE_SLACK = 300.0  # seconds: a timestamp this far ahead of us is from the previous day/month


@dataclass(frozen=True, slots=True)
class AprsTime:
    """A ch. 6 timestamp: `day` is None for the HMS form; `zulu` False for local DHM."""

    hour: int
    minute: int
    second: int = 0
    day: int | None = None
    zulu: bool = True


@dataclass(frozen=True, slots=True)
class AprsPosition:
    lat: float
    lon: float
    symbol: str = "/>"  # table identifier + symbol code
    messaging: bool = False
    timestamp: AprsTime | None = None
    ambiguity: int = 0  # trailing digits blanked (ch. 8); 0 for compressed positions
    compressed: bool = False
    comment: str = ""


def parse_position(info: bytes) -> AprsPosition | None:
    """The position in an info field, or None when the packet is no position report. Raises
    AprsError for a position packet that is truncated or malformed."""
    if not info:
        return None
    dti = info[0]
    if dti in _WITHOUT_TIME:
        messaging, timestamp, rest = _WITHOUT_TIME[dti], None, info[1:]
    elif dti in _WITH_TIME:
        messaging = _WITH_TIME[dti]
        timestamp, rest = _timestamp(info), info[8:]
    else:
        return None
    # Positions are ASCII; comments in the wild are UTF-8 (and worse): decode leniently, so a
    # bad byte in a position fails its pattern and one in a comment costs only that character.
    text = rest.decode("utf-8", errors="replace")
    if text[:1].isdigit() or text[:1] == " ":
        return _uncompressed(text, info, messaging, timestamp)
    return _compressed(text, info, messaging, timestamp)


def _timestamp(info: bytes) -> AprsTime | None:
    raw = info[1:8].decode("ascii", errors="replace")
    m = _TIME.fullmatch(raw)
    if m is None:
        raise AprsError(f"bad timestamp {raw!r} (ch. 6: DDHHMMz, DDHHMM/ or HHMMSSh)", info)
    a, b, c = int(m[1][0:2]), int(m[1][2:4]), int(m[1][4:6])
    if m[2] == "h":
        if a > 23 or b > 59 or c > 59:
            raise AprsError(f"bad time {raw!r}", info)
        return AprsTime(hour=a, minute=b, second=c)
    if not 1 <= a <= 31 or b > 23 or c > 59:
        raise AprsError(f"bad date and time {raw!r}", info)
    return AprsTime(hour=b, minute=c, day=a, zulu=m[2] == "z")


def _uncompressed(text: str, info: bytes, messaging: bool, ts: AprsTime | None) -> AprsPosition:
    if len(text) < UNCOMPRESSED_LEN:
        raise AprsError(f"uncompressed position shorter than {UNCOMPRESSED_LEN} characters", info)
    lat_m, lon_m = _LAT.fullmatch(text[0:8]), _LON.fullmatch(text[9:18])
    table, code = text[8], text[18]
    if lat_m is None or lon_m is None:
        raise AprsError(f"bad latitude or longitude in {text[:19]!r} (ch. 8)", info)
    if not _UNCOMPRESSED_TABLE.fullmatch(table) or not " " <= code <= "~":
        raise AprsError(f"bad symbol {table + code!r}", info)
    lat_digits = lat_m[1] + lat_m[2] + lat_m[3]
    blanks = len(lat_digits) - len(lat_digits.rstrip(" "))
    if " " in lat_digits.rstrip(" ") or blanks > 4:
        raise AprsError(f"bad position ambiguity in {text[:8]!r}", info)
    lat = _degrees(lat_m, blanks, 90, info)
    lon = _degrees(lon_m, blanks, 180, info)
    return AprsPosition(
        lat=-lat if lat_m[4] == "S" else lat,
        lon=-lon if lon_m[4] == "W" else lon,
        symbol=table + code,
        messaging=messaging,
        timestamp=ts,
        ambiguity=blanks,
        comment=text[UNCOMPRESSED_LEN:],
    )


def _degrees(m: re.Match[str], blanks: int, top: int, info: bytes) -> float:
    """Degrees from the ch. 8 digits, the last `blanks` of them unknown (the box's centre)."""
    deg = m[1]
    digits = list(m[1] + m[2] + m[3])
    known = len(digits) - blanks
    if any(not d.isdigit() for d in digits[:known]):
        raise AprsError("digits missing in a position", info)
    low = [*digits[:known], *("0" * blanks)]
    value = int("".join(low[: len(deg)]))
    mins = int("".join(low[len(deg) : len(deg) + 2])) + int("".join(low[len(deg) + 2 :])) / 100
    # Half the box left by blanked digits: 0.1', 1', 10' or 1 degree wide (ch. 8 "ambiguity").
    half = (0.0, 0.05, 0.5, 5.0, 30.0)[blanks]
    if mins >= 60 or value > top or value + (mins + half) / 60 > top + 1e-9:
        raise AprsError("position off the globe", info)
    return value + (mins + half) / 60


def _compressed(text: str, info: bytes, messaging: bool, ts: AprsTime | None) -> AprsPosition:
    if len(text) < COMPRESSED_LEN:
        raise AprsError(f"compressed position shorter than {COMPRESSED_LEN} characters", info)
    table, code = text[0], text[9]
    if not _COMPRESSED_TABLE.fullmatch(table):
        raise AprsError(f"not a position: bad symbol table {table!r}", info)
    chars = text[1:9]
    if any(not "!" <= ch <= "{" for ch in chars):  # base 91: bytes 33..123 (ch. 9)
        raise AprsError(f"bad base-91 digits in {chars!r}", info)
    y = _base91(chars[0:4])
    x = _base91(chars[4:8])
    lat, lon = 90 - y / 380926, -180 + x / 190463
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise AprsError("compressed position off the globe", info)
    if table in "abcdefghij":
        table = str("abcdefghij".index(table))  # overlay digits are sent as a-j (ch. 9)
    return AprsPosition(
        lat=lat,
        lon=lon,
        symbol=table + code,
        messaging=messaging,
        timestamp=ts,
        compressed=True,
        comment=text[COMPRESSED_LEN:],
    )


def _base91(chars: str) -> int:
    value = 0
    for ch in chars:
        value = value * 91 + ord(ch) - 33
    return value


def _to_base91(value: int) -> str:
    out = []
    for _ in range(4):
        value, digit = divmod(value, 91)
        out.append(chr(digit + 33))
    return "".join(reversed(out))


def encode_position(
    lat: float,
    lon: float,
    *,
    symbol: str = "/>",
    messaging: bool = False,
    timestamp: AprsTime | None = None,
    compressed: bool = False,
    comment: str = "",
) -> bytes:
    """The info field of a position report (uncompressed: hundredths of a minute, about 18 m;
    compressed: about 0.3 m at the equator). Zulu timestamps only."""
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise AprsError(f"position off the globe: {lat}, {lon}")
    if len(symbol) != 2:
        raise AprsError(f"a symbol is a table and a code, got {symbol!r}")
    if any(not " " <= ch <= "~" for ch in comment):
        raise AprsError("comment must be printable ASCII")
    if timestamp is None:
        head = "=" if messaging else "!"
    else:
        head = ("@" if messaging else "/") + _time_text(timestamp)
    table, code = symbol[0], symbol[1]
    if compressed:
        if table.isdigit():
            table = "abcdefghij"[int(table)]
        y = round(380926 * (90 - lat))
        x = round(190463 * (180 + lon))
        body = f"{table}{_to_base91(y)}{_to_base91(x)}{code}  T"  # "  ": no course/speed/range
    else:
        north, east = "N" if lat >= 0 else "S", "E" if lon >= 0 else "W"
        body = f"{_dm(abs(lat), 2)}{north}{table}{_dm(abs(lon), 3)}{east}{code}"
    return (head + body + comment).encode("ascii")


def _dm(degrees: float, width: int) -> str:
    hundredths = round(degrees * 6000)  # hundredths of a minute
    whole, rest = divmod(hundredths, 6000)
    return f"{whole:0{width}d}{rest // 100:02d}.{rest % 100:02d}"


def _time_text(ts: AprsTime) -> str:
    if not ts.zulu:
        raise AprsError("only zulu timestamps are sent")
    if ts.day is None:
        return f"{ts.hour:02d}{ts.minute:02d}{ts.second:02d}h"
    return f"{ts.day:02d}{ts.hour:02d}{ts.minute:02d}z"


def observed_at(ts: AprsTime | None, now: float) -> float | None:
    """The epoch seconds a ch. 6 timestamp names, taken as the latest such moment not after
    `now` (give or take a few minutes of clock difference): the day of the month is this month's
    or last month's, an HMS time today's or yesterday's. None for no timestamp or local time."""
    if ts is None or not ts.zulu:
        return None
    here = datetime.fromtimestamp(now, UTC)
    if ts.day is None:
        when = here.replace(hour=ts.hour, minute=ts.minute, second=ts.second, microsecond=0)
        if when.timestamp() > now + _FUTURE_SLACK:
            when -= timedelta(days=1)
        return when.timestamp()
    year, month = here.year, here.month
    for _ in range(3):  # this month, else the month before (a 31st in a month of 30 days...)
        if ts.day <= calendar.monthrange(year, month)[1]:
            when = datetime(year, month, ts.day, ts.hour, ts.minute, tzinfo=UTC)
            if when.timestamp() <= now + _FUTURE_SLACK:
                return when.timestamp()
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return None
