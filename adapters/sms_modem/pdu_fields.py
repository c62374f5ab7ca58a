"""Sans-I/O fields of SMS TPDUs (3GPP TS 23.040): addresses (§9.1.2.5), service centre time
stamps (§9.2.3.11), the user data and its header (§9.2.3.24, concatenation §9.2.3.24.1) and the
validity period (§9.2.3.12). The TPDUs built from them are in `pdu.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from adapters.sms_modem.alphabet import (
    Alphabet,
    PduError,
    alphabet_for,
    gsm7_decode,
    gsm7_encode,
    pack_septets,
    unpack_septets,
)

__all__ = [
    "Concat",
    "decode_address",
    "decode_scts",
    "decode_udh",
    "decode_user_data",
    "encode_address",
    "encode_relative_vp",
    "encode_scts",
    "encode_smsc",
    "encode_udh",
    "encode_user_data",
    "split_smsc",
]


# ---- TS 23.040 §9.1.2.5: address fields ------------------------------------------------------------
_BCD = "0123456789*#abc"
TOA_INTERNATIONAL, TOA_UNKNOWN, TOA_ALPHANUMERIC = 0x91, 0x81, 0xD0


def _bcd_encode(digits: str) -> bytes:
    nibbles = []
    for ch in digits.lower():
        if ch not in _BCD:
            raise PduError(f"not a phone number digit: {ch!r}")
        nibbles.append(_BCD.index(ch))
    if len(nibbles) % 2:
        nibbles.append(0xF)
    return bytes(nibbles[i] | nibbles[i + 1] << 4 for i in range(0, len(nibbles), 2))


def _bcd_decode(data: bytes, digits: int) -> str:
    out: list[str] = []
    for octet in data:
        for nibble in (octet & 0x0F, octet >> 4):
            if len(out) == digits:
                break
            if nibble == 0xF:
                raise PduError("filler nibble inside an address")
            out.append(_BCD[nibble])
    return "".join(out)


def encode_address(number: str, *, allow_name: bool = True) -> bytes:
    """TP-DA / TP-OA / TP-RA: digit count, type of address, swapped BCD digits; a name that is not
    a number is coded alphanumeric (type of number 101, GSM 7-bit packed) when `allow_name`."""
    if number.startswith("+") and number[1:] and all(c in "0123456789" for c in number[1:]):
        digits, toa = number[1:], TOA_INTERNATIONAL
    elif number and all(c in "0123456789*#" for c in number):
        digits, toa = number, TOA_UNKNOWN
    else:
        septets = gsm7_encode(number)
        if septets is None or not number or len(septets) > 11 or not allow_name:
            raise PduError(f"not an address: {number!r}")
        # Address-Length counts the useful semi-octets of the packed name.
        return bytes([-(-len(septets) * 7 // 4), TOA_ALPHANUMERIC]) + pack_septets(septets)
    if len(digits) > 20:
        raise PduError(f"an address has at most 20 digits, not {len(digits)}")
    return bytes([len(digits), toa]) + _bcd_encode(digits)


def decode_address(data: bytes, pos: int) -> tuple[str, int]:
    """The address starting at `pos` and the offset after it."""
    if pos + 2 > len(data):
        raise PduError("truncated address")
    semi, toa = data[pos], data[pos + 1]
    end = pos + 2 + (semi + 1) // 2
    if semi > 20 or end > len(data):
        raise PduError("truncated or oversized address")
    body = data[pos + 2 : end]
    if (toa >> 4) & 0x07 == 0b101:  # type of number: alphanumeric (§9.1.2.5)
        return gsm7_decode(unpack_septets(body, semi * 4 // 7)), end
    digits = _bcd_decode(body, semi)
    return ("+" + digits if (toa >> 4) & 0x07 == 0b001 else digits), end


def split_smsc(data: bytes, tpdu_length: int | None = None) -> tuple[str, bytes]:
    """Split `<SMSC address><TPDU>` (TS 24.011 §8.2.5.2 RP address; 27.005 §3 `<pdu>`).
    With `tpdu_length` (the `<length>` of +CMGR/+CMT/+CDS), data without an SMSC part is accepted."""
    if tpdu_length is not None and len(data) == tpdu_length:
        return "", data
    if not data:
        raise PduError("empty PDU")
    n = data[0]
    if 1 + n > len(data) or n > 11:
        raise PduError("truncated or oversized SMSC address")
    if tpdu_length is not None and 1 + n + tpdu_length != len(data):
        raise PduError(f"PDU has {len(data)} octets, not an SMSC part and {tpdu_length} TPDU octets")
    if n == 0:
        return "", data[1:]
    toa, body = data[1], data[2 : 1 + n]
    count = 2 * len(body) - (1 if body and body[-1] >> 4 == 0xF else 0)  # odd count: F filler
    digits = _bcd_decode(body, count)
    return ("+" if toa == TOA_INTERNATIONAL else "") + digits, data[1 + n :]


def encode_smsc(number: str) -> bytes:
    """The SMSC prefix of a PDU in +CMGS: `00` means "the one stored with +CSCA" (27.005 §3.5.1)."""
    if not number:
        return b"\x00"
    toa = TOA_INTERNATIONAL if number.startswith("+") else TOA_UNKNOWN
    body = _bcd_encode(number.lstrip("+"))
    return bytes([len(body) + 1, toa]) + body


# ---- TS 23.040 §9.2.3.11: service centre time stamps ----------------------------------------------
def _swapped(value: int) -> int:
    return (value % 10) << 4 | (value // 10)


def encode_scts(when: dt.datetime) -> bytes:
    offset = when.utcoffset() or dt.timedelta(0)
    quarters = int(offset.total_seconds() // 900)
    tz = _swapped(abs(quarters)) | (0x08 if quarters < 0 else 0)
    fields = (when.year % 100, when.month, when.day, when.hour, when.minute, when.second)
    return bytes(_swapped(v) for v in fields) + bytes([tz])


def decode_scts(data: bytes, pos: int) -> dt.datetime:
    if pos + 7 > len(data):
        raise PduError("truncated time stamp")
    raw = data[pos : pos + 7]
    values = []
    for octet in raw[:6]:
        lo, hi = octet & 0x0F, octet >> 4
        if lo > 9 or hi > 9:
            raise PduError(f"time stamp octet 0x{octet:02X} is not BCD")
        values.append(lo * 10 + hi)
    tz_lo, tz_hi = raw[6] & 0x07, raw[6] >> 4
    if tz_hi > 9:
        raise PduError("time zone is not BCD")
    quarters = (tz_lo * 10 + tz_hi) * (-1 if raw[6] & 0x08 else 1)
    year, month, day, hour, minute, second = values
    try:
        return dt.datetime(
            2000 + year,
            month,
            day,
            hour,
            minute,
            second,
            tzinfo=dt.timezone(dt.timedelta(minutes=15 * quarters)),
        )
    except ValueError as exc:
        raise PduError(f"invalid time stamp: {exc}") from exc


# ---- TS 23.040 §9.2.3.24: user data and its header ------------------------------------------------
@dataclass(frozen=True, slots=True)
class Concat:
    """Concatenated short message IE (§9.2.3.24.1 IEI 0x00, §9.2.3.24.8 IEI 0x08)."""

    ref: int
    total: int
    seq: int
    wide: bool = False  # 16-bit reference


def encode_udh(concat: Concat) -> bytes:
    if concat.wide:
        ie = bytes([0x08, 4, concat.ref >> 8, concat.ref & 0xFF, concat.total, concat.seq])
    else:
        ie = bytes([0x00, 3, concat.ref, concat.total, concat.seq])
    return bytes([len(ie)]) + ie


def decode_udh(udh: bytes) -> Concat | None:
    """The concatenation IE of a UDH (without its length octet); other IEs are skipped."""
    pos, concat = 0, None
    while pos < len(udh):
        if pos + 2 > len(udh):
            raise PduError("truncated information element")
        iei, iedl = udh[pos], udh[pos + 1]
        body = udh[pos + 2 : pos + 2 + iedl]
        if len(body) != iedl:
            raise PduError("truncated information element")
        if iei == 0x00 and iedl == 3:
            concat = Concat(body[0], body[1], body[2])
        elif iei == 0x08 and iedl == 4:
            concat = Concat(body[0] << 8 | body[1], body[2], body[3], wide=True)
        pos += 2 + iedl
    if concat is not None and not 1 <= concat.seq <= concat.total:
        raise PduError(f"concatenation part {concat.seq} of {concat.total}")
    return concat


def encode_user_data(text: str, alphabet: Alphabet, concat: Concat | None) -> tuple[int, bytes]:
    """TP-UDL and TP-UD. UDL counts septets for GSM 7-bit (UDH and fill bits included), octets
    otherwise (§9.2.3.16)."""
    udh = encode_udh(concat) if concat else b""
    if alphabet is Alphabet.GSM7:
        septets = gsm7_encode(text)
        if septets is None:
            raise PduError("text is not in the GSM 7-bit alphabet")
        fill = (7 - len(udh) * 8 % 7) % 7
        udl = (len(udh) * 8 + fill) // 7 + len(septets)
        if udl > 160:
            raise PduError(f"user data of {udl} septets is longer than 160")
        return udl, udh + pack_septets(septets, fill)
    try:
        body = text.encode("utf-16-be" if alphabet is Alphabet.UCS2 else "latin-1", errors="strict")
    except UnicodeEncodeError:
        if alphabet is not Alphabet.UCS2:
            raise PduError("text does not fit 8-bit data") from None
        body = text.encode("utf-16-be", errors="replace")  # a lone surrogate becomes "?"
    if len(udh) + len(body) > 140:
        raise PduError(f"user data of {len(udh) + len(body)} octets is longer than 140")
    return len(udh) + len(body), udh + body


def decode_user_data(data: bytes, pos: int, dcs: int, udhi: bool) -> tuple[str, Concat | None]:
    if pos >= len(data):
        raise PduError("missing TP-UDL")
    alphabet, udl, ud = alphabet_for(dcs), data[pos], data[pos + 1 :]
    octets = (udl * 7 + 7) // 8 if alphabet is Alphabet.GSM7 else udl
    if udl > (160 if alphabet is Alphabet.GSM7 else 140):
        raise PduError(f"TP-UDL {udl} is too long")
    if len(ud) != octets:
        raise PduError(f"TP-UD has {len(ud)} octets, TP-UDL {udl} needs {octets}")
    header, concat = b"", None
    if udhi:
        if not ud or 1 + ud[0] > len(ud):
            raise PduError("truncated user data header")
        header = ud[: 1 + ud[0]]
        concat = decode_udh(header[1:])
    if alphabet is Alphabet.GSM7:
        fill = (7 - len(header) * 8 % 7) % 7
        skip = (len(header) * 8 + fill) // 7
        if skip > udl:
            raise PduError("user data header longer than the user data")
        return gsm7_decode(unpack_septets(ud[len(header) :], udl - skip, fill)), concat
    body = ud[len(header) :]
    if alphabet is Alphabet.UCS2:
        if len(body) % 2:
            raise PduError("UCS2 user data with an odd number of octets")
        # UTF-16 (a superset of UCS2) so emoji surrogate pairs survive; lone halves are replaced.
        return body.decode("utf-16-be", errors="replace"), concat
    return body.decode("latin-1"), concat


# ---- TS 23.040 §9.2.3.12: validity period ----------------------------------------------------------
def encode_relative_vp(minutes: int) -> int:
    """The smallest relative TP-VP (§9.2.3.12.1) covering `minutes`."""
    if minutes <= 720:
        return max(0, -(-minutes // 5) - 1)
    if minutes <= 1440:
        return 143 + -(-(minutes - 720) // 30)
    if minutes <= 30 * 1440:
        return 166 + -(-minutes // 1440)
    return min(255, 192 + -(-minutes // (7 * 1440)))
