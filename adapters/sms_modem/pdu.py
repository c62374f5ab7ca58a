"""Sans-I/O SMS TPDUs (3GPP TS 23.040) and alphabets (3GPP TS 23.038).

SMS-SUBMIT (§9.2.2.2) is what we send, SMS-DELIVER (§9.2.2.1) is a reply, SMS-STATUS-REPORT
(§9.2.2.3) is a delivery report. Text uses the GSM 7-bit default alphabet with its extension table
(TS 23.038 §6.2.1, §6.2.1.1) or UCS-2 (§6.2.3). Long texts are concatenated with a User Data
Header (TS 23.040 §9.2.3.24.1). Every decoding problem raises `PduError`, nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Alphabet",
    "Deliver",
    "PduError",
    "StatusReport",
    "Submit",
    "SubmitPart",
    "alphabet_for",
    "decode_any",
    "decode_deliver",
    "decode_status_report",
    "decode_submit",
    "encode_deliver",
    "encode_status_report",
    "encode_submit",
    "gsm7_decode",
    "gsm7_encode",
    "pack_septets",
    "split_smsc",
    "submit_parts",
    "unpack_septets",
]


class PduError(ValueError):
    """A TPDU (or a piece of one) that does not follow TS 23.040 / TS 23.038."""


# ---- TS 23.038 §6.2.1: the GSM 7-bit default alphabet, indexed by septet value ---------------
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
ESC = 0x1B
# §6.2.1.1: the extension table, reached through ESC (0x1B); each of these costs two septets.
GSM7_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~", 0x3E: "]"}
GSM7_EXTENSION |= {0x40: "|", 0x65: "€"}
_BASIC_CODE = {ch: i for i, ch in enumerate(GSM7_BASIC) if i != ESC}
_EXT_CODE = {ch: code for code, ch in GSM7_EXTENSION.items()}


def gsm7_encode(text: str) -> list[int] | None:
    """Septets for `text`, or None when a character is outside the default alphabet + extension."""
    out: list[int] = []
    for ch in text:
        code = _BASIC_CODE.get(ch)
        if code is not None:
            out.append(code)
            continue
        ext = _EXT_CODE.get(ch)
        if ext is None:
            return None
        out += (ESC, ext)
    return out


def gsm7_decode(septets: list[int] | bytes) -> str:
    """Text for septets. An unknown extension code shows its default character and a lone
    trailing ESC shows as a space (TS 23.038 §6.2.1.1, note 1 and the 0x1B footnote)."""
    out: list[str] = []
    escaped = False
    for s in septets:
        if not 0 <= s <= 0x7F:
            raise PduError(f"septet out of range: {s}")
        if escaped:
            out.append(GSM7_EXTENSION.get(s, GSM7_BASIC[s] if s != ESC else " "))
            escaped = False
        elif s == ESC:
            escaped = True
        else:
            out.append(GSM7_BASIC[s])
    if escaped:
        out.append(" ")
    return "".join(out)


def pack_septets(septets: list[int], fill_bits: int = 0) -> bytes:
    """Pack septets LSB first (TS 23.038 §6.1.2.1.1), after `fill_bits` zero bits (§9.2.3.24)."""
    acc, nbits, out = 0, fill_bits, bytearray()
    for s in septets:
        acc |= (s & 0x7F) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits > 0:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """`count` septets packed in `data` after `fill_bits` bits."""
    if (fill_bits + 7 * count + 7) // 8 > len(data):
        raise PduError(f"{count} septets do not fit in {len(data)} octets")
    value = int.from_bytes(data, "little")
    return [(value >> (fill_bits + 7 * i)) & 0x7F for i in range(count)]


# ---- TS 23.038 §4: Data Coding Scheme ------------------------------------------------------------
class Alphabet(StrEnum):
    GSM7 = "gsm7"
    DATA8 = "8bit"
    UCS2 = "ucs2"


_DCS = {Alphabet.GSM7: 0x00, Alphabet.DATA8: 0x04, Alphabet.UCS2: 0x08}


def alphabet_for(dcs: int) -> Alphabet:
    """The alphabet a TP-DCS value selects (TS 23.038 §4)."""
    group = dcs >> 4
    if group <= 0b0111:  # general data coding (00xx) and automatic deletion (01xx)
        if dcs & 0x20:
            raise PduError(f"compressed user data is not supported (TP-DCS 0x{dcs:02X})")
        bits = (dcs >> 2) & 0b11
        if bits == 0b11:
            raise PduError(f"reserved alphabet in TP-DCS 0x{dcs:02X}")
        return (Alphabet.GSM7, Alphabet.DATA8, Alphabet.UCS2)[bits]
    if group in (0b1100, 0b1101):  # message waiting indication, GSM 7-bit
        return Alphabet.GSM7
    if group == 0b1110:  # message waiting indication, UCS2
        return Alphabet.UCS2
    if group == 0b1111:  # data coding / message class
        return Alphabet.DATA8 if dcs & 0x04 else Alphabet.GSM7
    raise PduError(f"reserved TP-DCS coding group 0x{dcs:02X}")


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


def _encode_ud(text: str, alphabet: Alphabet, concat: Concat | None) -> tuple[int, bytes]:
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


def _decode_ud(data: bytes, pos: int, dcs: int, udhi: bool) -> tuple[str, Concat | None]:
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


# ---- TPDUs -----------------------------------------------------------------------------------------
MTI_DELIVER, MTI_SUBMIT, MTI_STATUS_REPORT = 0b00, 0b01, 0b10


@dataclass(frozen=True, slots=True)
class Submit:
    """SMS-SUBMIT (§9.2.2.2)."""

    destination: str
    text: str
    alphabet: Alphabet = Alphabet.GSM7
    mr: int = 0
    status_report: bool = True  # TP-SRR
    validity: int | None = None  # relative TP-VP octet (TP-VPF = 10), None: no VP
    concat: Concat | None = None
    pid: int = 0


@dataclass(frozen=True, slots=True)
class Deliver:
    """SMS-DELIVER (§9.2.2.1)."""

    sender: str
    text: str
    timestamp: dt.datetime
    alphabet: Alphabet = Alphabet.GSM7
    concat: Concat | None = None
    pid: int = 0


@dataclass(frozen=True, slots=True)
class StatusReport:
    """SMS-STATUS-REPORT (§9.2.2.3). TP-ST meanings: §9.2.3.15."""

    mr: int
    recipient: str
    sc_timestamp: dt.datetime
    discharge_time: dt.datetime
    status: int

    @property
    def final(self) -> bool:
        """False for 0x20-0x3F: a temporary error and the SC is still trying."""
        return not 0x20 <= self.status <= 0x3F

    @property
    def delivered(self) -> bool:
        """0x00-0x1F: the transaction completed (received, forwarded, replaced)."""
        return self.status <= 0x1F

    @property
    def meaning(self) -> str:
        return describe_status(self.status)


_ST_NAMES = {
    0x00: "received by the SME",
    0x01: "forwarded by the SC, delivery unconfirmed",
    0x02: "replaced by the SC",
    0x20: "congestion",
    0x21: "SME busy",
    0x22: "no response from SME",
    0x23: "service rejected",
    0x24: "quality of service not available",
    0x25: "error in SME",
    0x40: "remote procedure error",
    0x41: "incompatible destination",
    0x42: "connection rejected by SME",
    0x43: "not obtainable",
    0x44: "quality of service not available",
    0x45: "no interworking available",
    0x46: "SM validity period expired",
    0x47: "SM deleted by originating SME",
    0x48: "SM deleted by SC administration",
    0x49: "SM does not exist",
    0x60: "congestion",
    0x61: "SME busy",
    0x62: "no response from SME",
    0x63: "service rejected",
    0x64: "quality of service not available",
    0x65: "error in SME",
}


def describe_status(st: int) -> str:
    """TP-ST in words (TS 23.040 §9.2.3.15)."""
    if st in _ST_NAMES:
        name = _ST_NAMES[st]
    elif st <= 0x1F:
        name = "completed (reserved or SC-specific value)"
    elif st <= 0x3F:
        name = "temporary error (reserved or SC-specific value)"
    elif st <= 0x5F:
        name = "permanent error (reserved or SC-specific value)"
    else:
        name = "temporary error, SC no longer trying (reserved or SC-specific value)"
    if 0x60 <= st <= 0x7F:
        name += ", SC no longer trying"
    elif 0x20 <= st <= 0x3F:
        name += ", SC still trying"
    return name


def encode_submit(sub: Submit) -> bytes:
    """The TPDU of an SMS-SUBMIT (no SMSC part)."""
    first = MTI_SUBMIT
    if sub.validity is not None:
        first |= 0b10 << 3  # TP-VPF relative (§9.2.3.3)
    if sub.status_report:
        first |= 0x20  # TP-SRR (§9.2.3.5)
    if sub.concat is not None:
        first |= 0x40  # TP-UDHI (§9.2.3.23)
    udl, ud = _encode_ud(sub.text, sub.alphabet, sub.concat)
    vp = bytes([sub.validity]) if sub.validity is not None else b""
    head = bytes([first, sub.mr & 0xFF]) + encode_address(sub.destination, allow_name=False)
    return head + bytes([sub.pid, _DCS[sub.alphabet]]) + vp + bytes([udl]) + ud


def decode_submit(tpdu: bytes) -> Submit:
    if len(tpdu) < 2:
        raise PduError("truncated SMS-SUBMIT")
    first, mr = tpdu[0], tpdu[1]
    if first & 0x03 != MTI_SUBMIT:
        raise PduError(f"not an SMS-SUBMIT (first octet 0x{first:02X})")
    destination, pos = decode_address(tpdu, 2)
    if pos + 2 > len(tpdu):
        raise PduError("truncated SMS-SUBMIT")
    pid, dcs = tpdu[pos], tpdu[pos + 1]
    pos += 2
    vpf, validity = (first >> 3) & 0b11, None
    if vpf == 0b10:
        if pos >= len(tpdu):
            raise PduError("truncated validity period")
        validity = tpdu[pos]
        pos += 1
    elif vpf in (0b01, 0b11):
        pos += 7  # enhanced or absolute: not interpreted
    text, concat = _decode_ud(tpdu, pos, dcs, bool(first & 0x40))
    return Submit(destination, text, alphabet_for(dcs), mr, bool(first & 0x20), validity, concat, pid)


def encode_deliver(d: Deliver) -> bytes:
    first = MTI_DELIVER | 0x04  # TP-MMS: no more messages waiting (§9.2.3.2)
    if d.concat is not None:
        first |= 0x40
    udl, ud = _encode_ud(d.text, d.alphabet, d.concat)
    head = bytes([first]) + encode_address(d.sender) + bytes([d.pid, _DCS[d.alphabet]])
    return head + encode_scts(d.timestamp) + bytes([udl]) + ud


def decode_deliver(tpdu: bytes) -> Deliver:
    if not tpdu or tpdu[0] & 0x03 != MTI_DELIVER:
        raise PduError("not an SMS-DELIVER")
    first = tpdu[0]
    sender, pos = decode_address(tpdu, 1)
    if pos + 2 > len(tpdu):
        raise PduError("truncated SMS-DELIVER")
    pid, dcs = tpdu[pos], tpdu[pos + 1]
    when = decode_scts(tpdu, pos + 2)
    text, concat = _decode_ud(tpdu, pos + 9, dcs, bool(first & 0x40))
    return Deliver(sender, text, when, alphabet_for(dcs), concat, pid)


def encode_status_report(r: StatusReport) -> bytes:
    head = bytes([MTI_STATUS_REPORT, r.mr & 0xFF]) + encode_address(r.recipient)
    return head + encode_scts(r.sc_timestamp) + encode_scts(r.discharge_time) + bytes([r.status])


def decode_status_report(tpdu: bytes) -> StatusReport:
    """TP-MR, TP-RA, TP-SCTS, TP-DT, TP-ST; the optional TP-PI and what follows are ignored."""
    if len(tpdu) < 2 or tpdu[0] & 0x03 != MTI_STATUS_REPORT:
        raise PduError("not an SMS-STATUS-REPORT")
    recipient, pos = decode_address(tpdu, 2)
    if pos + 15 > len(tpdu):
        raise PduError("truncated SMS-STATUS-REPORT")
    scts, dt_ = decode_scts(tpdu, pos), decode_scts(tpdu, pos + 7)
    return StatusReport(tpdu[1], recipient, scts, dt_, tpdu[pos + 14])


def decode_any(tpdu: bytes) -> Deliver | StatusReport:
    """A TPDU the modem hands over (+CMGR, +CMT, +CDS): SMS-DELIVER or SMS-STATUS-REPORT."""
    if not tpdu:
        raise PduError("empty TPDU")
    mti = tpdu[0] & 0x03
    if mti == MTI_DELIVER:
        return decode_deliver(tpdu)
    if mti == MTI_STATUS_REPORT:
        return decode_status_report(tpdu)
    raise PduError(f"unexpected TP-MTI {mti} from the network")


# ---- splitting a text into SUBMIT parts (§9.2.3.24.1) ---------------------------------------------
SINGLE = {Alphabet.GSM7: 160, Alphabet.UCS2: 70}
PART = {Alphabet.GSM7: 153, Alphabet.UCS2: 67}  # with the 6-octet 8-bit-reference UDH


@dataclass(frozen=True, slots=True)
class SubmitPart:
    tpdu: bytes
    submit: Submit

    def hex(self, smsc: str = "") -> str:
        """What follows the `> ` prompt in PDU mode: SMSC part + TPDU, in hex (27.005 §3.5.1)."""
        return (encode_smsc(smsc) + self.tpdu).hex().upper()

    @property
    def length(self) -> int:
        """`<length>` of AT+CMGS: TPDU octets, the SMSC part not counted (27.005 §3.5.1)."""
        return len(self.tpdu)


@dataclass(frozen=True, slots=True)
class Plan:
    parts: list[SubmitPart] = field(default_factory=list)
    alphabet: Alphabet = Alphabet.GSM7
    truncated: bool = False


def _cost(ch: str, alphabet: Alphabet) -> int:
    """What a character costs: GSM-7 extension characters take two septets (an ESC pair is never
    split across parts); in UCS-2 a non-BMP character takes a UTF-16 surrogate pair."""
    if alphabet is Alphabet.GSM7:
        return 2 if ch in _EXT_CODE else 1
    return 2 if ord(ch) > 0xFFFF else 1


def _chunks(text: str, alphabet: Alphabet, size: int) -> list[str]:
    out: list[str] = []
    cur: list[str] = []
    used = 0
    for ch in text:
        c = _cost(ch, alphabet)
        if used + c > size:
            out.append("".join(cur))
            cur, used = [], 0
        cur.append(ch)
        used += c
    if cur or not out:
        out.append("".join(cur))
    return out


def submit_parts(
    destination: str,
    text: str,
    *,
    ref: int = 0,
    max_parts: int = 4,
    status_report: bool = True,
    validity: int | None = None,
    ellipsis: str = "...",
) -> Plan:
    """Plan the SUBMIT PDUs for a text: one part if it fits (160 GSM-7 / 70 UCS-2), otherwise
    parts of 153 / 67 with an 8-bit concatenation reference `ref`. A text longer than `max_parts`
    parts is cut and ends with `ellipsis`."""
    if not 1 <= max_parts <= 255:
        raise PduError(f"max_parts must be 1-255, not {max_parts}")
    alphabet = Alphabet.GSM7 if gsm7_encode(text) is not None else Alphabet.UCS2
    chunks = _chunks(text, alphabet, SINGLE[alphabet])
    truncated = False
    if len(chunks) > 1:
        chunks = _chunks(text, alphabet, PART[alphabet] if max_parts > 1 else SINGLE[alphabet])
        if len(chunks) > max_parts:
            truncated = True
            size = PART[alphabet] if max_parts > 1 else SINGLE[alphabet]
            last = chunks[max_parts - 1]
            while sum(_cost(c, alphabet) for c in last + ellipsis) > size:
                last = last[:-1]
            chunks = [*chunks[: max_parts - 1], last + ellipsis]
    total = len(chunks)
    parts = []
    for seq, chunk in enumerate(chunks, start=1):
        concat = Concat(ref & 0xFF, total, seq) if total > 1 else None
        sub = Submit(destination, chunk, alphabet, 0, status_report, validity, concat)
        parts.append(SubmitPart(encode_submit(sub), sub))
    return Plan(parts, alphabet, truncated)
