"""The simulator's own KISS, AX.25 and APRS message coding, written from the specs (KISS by
Chepponis/Karn §2-3, AX.25 2.0 §2.2.13, APRS 1.0.1 ch. 14) and never from `adapters`, so a bug
in the channel's codec cannot hide itself behind the same bug here."""

from __future__ import annotations

import re
from dataclasses import dataclass

FEND, FESC, TFEND, TFESC = 0xC0, 0xDB, 0xDC, 0xDD


def kiss_wrap(payload: bytes, type_byte: int = 0x00) -> bytes:
    out = bytearray([FEND, type_byte])
    for b in payload:
        if b == FEND:
            out += bytes([FESC, TFEND])
        elif b == FESC:
            out += bytes([FESC, TFESC])
        else:
            out.append(b)
    out.append(FEND)
    return bytes(out)


class Deframer:
    """Splits a host byte stream into (type byte, payload); counts frames it cannot undo."""

    def __init__(self) -> None:
        self.pending = bytearray()
        self.synced = False
        self.bad = 0

    def push(self, data: bytes) -> list[tuple[int, bytes]]:
        frames: list[tuple[int, bytes]] = []
        for b in data:
            if b != FEND:
                if self.synced:
                    self.pending.append(b)
                continue
            if self.synced and self.pending:
                body = self._unstuff(bytes(self.pending))
                if body is None or not body:
                    self.bad += 1
                else:
                    frames.append((body[0], body[1:]))
            self.pending.clear()
            self.synced = True
        return frames

    @staticmethod
    def _unstuff(raw: bytes) -> bytes | None:
        out = bytearray()
        esc = False
        for b in raw:
            if esc:
                if b == TFEND:
                    out.append(FEND)
                elif b == TFESC:
                    out.append(FESC)
                else:
                    return None
                esc = False
            elif b == FESC:
                esc = True
            else:
                out.append(b)
        return None if esc else bytes(out)


@dataclass
class Ax25:
    dst: str
    src: str
    digis: list[tuple[str, bool]]  # (address, has been repeated)
    info: bytes
    control: int = 0x03
    pid: int = 0xF0

    def tnc2(self) -> str:
        path = "".join(f",{d}{'*' if used else ''}" for d, used in self.digis)
        return f"{self.src}>{self.dst}{path}:{self.info.decode('utf-8', 'replace')}"


def _field(address: str, *, high_bit: bool, last: bool) -> bytes:
    call, _, ssid = address.upper().partition("-")
    if not call or len(call) > 6 or not call.isalnum() or not call.isascii():
        raise ValueError(f"bad callsign {address!r}")
    n = int(ssid) if ssid else 0
    if not 0 <= n <= 15:
        raise ValueError(f"bad SSID {address!r}")
    shifted = bytes((ord(c) << 1) & 0xFE for c in call.ljust(6))
    return shifted + bytes([(0x80 if high_bit else 0) | 0x60 | (n << 1) | (1 if last else 0)])


def ax25_pack(dst: str, src: str, digis: list[tuple[str, bool]], info: bytes) -> bytes:
    head = _field(dst, high_bit=True, last=False) + _field(src, high_bit=False, last=not digis)
    for i, (d, used) in enumerate(digis):
        head += _field(d, high_bit=used, last=i == len(digis) - 1)
    return head + b"\x03\xf0" + info


def ax25_unpack(frame: bytes) -> Ax25:
    names: list[tuple[str, bool]] = []
    i = 0
    while True:
        if i + 7 > len(frame) or len(names) >= 10:
            raise ValueError("bad address field")
        chunk = frame[i : i + 7]
        call = "".join(chr(b >> 1) for b in chunk[:6]).strip()
        if not call or not call.isalnum():
            raise ValueError("bad callsign")
        ssid = (chunk[6] >> 1) & 0x0F
        names.append((call + (f"-{ssid}" if ssid else ""), bool(chunk[6] & 0x80)))
        i += 7
        if chunk[6] & 1:
            break
    if len(names) < 2 or i + 2 > len(frame):
        raise ValueError("short frame")
    return Ax25(names[0][0], names[1][0], names[2:], frame[i + 2 :], frame[i], frame[i + 1])


@dataclass
class Aprs:
    to: str
    kind: str  # "msg", "ack" or "rej"
    text: str = ""
    no: str | None = None


_MSG = re.compile(r":(.{9}):(.*)", re.DOTALL)


def aprs_parse(info: bytes) -> Aprs | None:
    m = _MSG.fullmatch(info.decode("latin-1"))
    if m is None:
        return None
    to, body = m[1].strip(), m[2]
    for kind in ("ack", "rej"):
        if body.startswith(kind) and re.fullmatch(r"[A-Za-z0-9]{1,5}", body[3:]):
            return Aprs(to, kind, no=body[3:])
    text, brace, no = body.rpartition("{")
    if brace and re.fullmatch(r"[A-Za-z0-9]{1,5}", no):
        return Aprs(to, "msg", text, no)
    return Aprs(to, "msg", body)


def aprs_message(to: str, text: str, no: str | None = None) -> bytes:
    return f":{to:<9}:{text}{'{' + no if no else ''}".encode()


def aprs_ack(to: str, no: str, kind: str = "ack") -> bytes:
    return f":{to:<9}:{kind}{no}".encode()


# ---- position reports (APRS 1.0.1 ch. 6, 8, 9), as a station's GPS tracker sends them ----------
def _ddmm(value: float, degree_digits: int, hemispheres: str) -> str:
    """ch. 8: degrees, minutes and hundredths of a minute, then the hemisphere letter."""
    hemisphere = hemispheres[0] if value >= 0 else hemispheres[1]
    total = round(abs(value) * 60 * 100)  # hundredths of a minute
    degrees, hundredths = divmod(total, 60 * 100)
    return f"{degrees:0{degree_digits}d}{hundredths // 100:02d}.{hundredths % 100:02d}{hemisphere}"


def _b91(n: int) -> str:
    """ch. 9: four base-91 digits, each written as its value plus 33."""
    return "".join(chr(33 + (n // 91**k) % 91) for k in (3, 2, 1, 0))


def aprs_position(
    lat: float,
    lon: float,
    *,
    symbol: str = "/>",
    comment: str = "",
    zulu: tuple[int, int, int] | None = None,
    compressed: bool = False,
) -> bytes:
    """A position report: `!` without a timestamp, or `/DDHHMMz` with the zulu (day, hour,
    minute) given; uncompressed (ch. 8) or compressed (ch. 9, no course/speed: "  T" -> "  " + T)."""
    head = "!" if zulu is None else "/{:02d}{:02d}{:02d}z".format(*zulu)
    table, code = symbol[0], symbol[1]
    if compressed:
        y = round(380926 * (90 - lat))
        x = round(190463 * (180 + lon))
        body = f"{table}{_b91(y)}{_b91(x)}{code}  T"
    else:
        body = f"{_ddmm(lat, 2, 'NS')}{table}{_ddmm(lon, 3, 'EW')}{code}"
    return (head + body + comment).encode("ascii")
