"""The simulator's own SMS PDU code, written from 3GPP TS 23.040 and TS 23.038 without looking at
(or importing) the adapter, so a bug in one cannot hide the same bug in the other.

It reads SMS-SUBMIT (TS 23.040 §9.2.2.2) and writes SMS-DELIVER (§9.2.2.1) and
SMS-STATUS-REPORT (§9.2.2.3). Septets are handled as a bit string, LSB first.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass


class BadPdu(ValueError):
    """The PDU breaks TS 23.040; the modem answers +CMS ERROR: 304 (27.005 §3.2.5)."""


# TS 23.038 §6.2.1 default alphabet, rows of 16 as printed in the spec (column-major there).
_DEFAULT = [
    "@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å",
    "Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", None, "Æ", "æ", "ß", "É",
    " ", "!", '"', "#", "¤", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/",
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?",
    "¡", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O",
    "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "Ä", "Ö", "Ñ", "Ü", "§",
    "¿", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
    "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "ä", "ö", "ñ", "ü", "à",
]  # fmt: skip
# §6.2.1.1 extension table (after the escape 0x1B).
_EXTENDED = {"\f": 10, "^": 20, "{": 40, "}": 41, "\\": 47, "[": 60, "~": 61, "]": 62, "|": 64, "€": 101}
_FROM_CHAR = {c: i for i, c in enumerate(_DEFAULT) if c is not None}
_FROM_EXT = {v: k for k, v in _EXTENDED.items()}


def to_septets(text: str) -> list[int] | None:
    out: list[int] = []
    for c in text:
        if c in _FROM_CHAR:
            out.append(_FROM_CHAR[c])
        elif c in _EXTENDED:
            out.extend((27, _EXTENDED[c]))
        else:
            return None
    return out


def from_septets(values: list[int]) -> str:
    text, i = [], 0
    while i < len(values):
        v = values[i]
        if v == 27:
            nxt = values[i + 1] if i + 1 < len(values) else None
            if nxt is None:
                text.append(" ")
            else:
                text.append(_FROM_EXT.get(nxt) or _DEFAULT[nxt] or " ")
            i += 2
            continue
        text.append(_DEFAULT[v] or " ")
        i += 1
    return "".join(text)


def _bits_of(data: bytes) -> str:
    """Octets as a bit string, least significant bit of the first octet first."""
    return "".join(format(b, "08b")[::-1] for b in data)


def septets_from(data: bytes, skip_bits: int, count: int) -> list[int]:
    bits = _bits_of(data)
    if skip_bits + 7 * count > len(bits):
        raise BadPdu("user data shorter than TP-UDL says")
    return [int(bits[skip_bits + 7 * k : skip_bits + 7 * k + 7][::-1], 2) for k in range(count)]


def septets_to(values: list[int], lead_bits: int) -> bytes:
    bits = "0" * lead_bits + "".join(format(v, "07b")[::-1] for v in values)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[k : k + 8][::-1], 2) for k in range(0, len(bits), 8))


# ---- addresses (§9.1.2.5) -------------------------------------------------------------------------
def read_address(pdu: bytes, at: int) -> tuple[str, int]:
    if at + 2 > len(pdu):
        raise BadPdu("address cut short")
    n_digits, kind = pdu[at], pdu[at + 1]
    n_octets = (n_digits + 1) // 2
    raw = pdu[at + 2 : at + 2 + n_octets]
    if len(raw) < n_octets:
        raise BadPdu("address cut short")
    if kind & 0x70 == 0x50:
        name = from_septets(septets_from(raw, 0, n_digits * 4 // 7))
        return name, at + 2 + n_octets
    hexdigits = "".join(f"{b & 15:x}{b >> 4:x}" for b in raw)[:n_digits]
    digits = hexdigits.replace("a", "*").replace("b", "#")
    if not all(c in "0123456789*#c" for c in digits):
        raise BadPdu("bad digit in address")
    return ("+" if kind & 0x70 == 0x10 else "") + digits, at + 2 + n_octets


def write_address(number: str) -> bytes:
    if number.startswith("+"):
        digits, kind = number[1:], 0x91
    elif number.isdigit():
        digits, kind = number, 0x81
    else:
        packed = septets_to(to_septets(number[:11]) or [], 0)
        return bytes([(len(number[:11]) * 7 + 3) // 4, 0xD0]) + packed
    swapped = "".join(b + a for a, b in zip(*[iter(digits + "F" * (len(digits) % 2))] * 2, strict=True))
    return bytes([len(digits), kind]) + bytes.fromhex(swapped)


def write_smsc(number: str) -> bytes:
    if not number:
        return b"\x00"
    body = write_address(number)[1:]  # type of address + digits
    return bytes([len(body)]) + body


def read_smsc(data: bytes) -> tuple[str, bytes]:
    """24.011 RP address in front of the TPDU: length in octets (type of address included)."""
    if not data:
        raise BadPdu("empty")
    n = data[0]
    if n == 0:
        return "", data[1:]
    if len(data) < 1 + n or n > 12:
        raise BadPdu("SMSC address cut short")
    digits = "".join(f"{b & 15:x}{b >> 4:x}" for b in data[2 : 1 + n]).rstrip("f")
    return ("+" if data[1] == 0x91 else "") + digits, data[1 + n :]


def timestamp(when: datetime.datetime) -> bytes:
    """§9.2.3.11: swapped BCD, the zone in quarter hours (sign in bit 3)."""
    zone = int((when.utcoffset() or datetime.timedelta()).total_seconds() // 900)
    fields = [when.year % 100, when.month, when.day, when.hour, when.minute, when.second, abs(zone)]
    out = bytes(int(f"{v:02d}"[::-1], 16) for v in fields)
    return out[:6] + bytes([out[6] | (0x08 if zone < 0 else 0)])


def text_timestamp(when: datetime.datetime) -> str:
    """27.005 §3.1 `<scts>` in text mode: "yy/MM/dd,hh:mm:ss±zz"."""
    zone = int((when.utcoffset() or datetime.timedelta()).total_seconds() // 900)
    return when.strftime("%y/%m/%d,%H:%M:%S") + f"{'-' if zone < 0 else '+'}{abs(zone):02d}"


# ---- SMS-SUBMIT (§9.2.2.2) ----------------------------------------------------------------------
@dataclass
class Submitted:
    destination: str
    text: str
    mr: int
    wants_report: bool
    concat: tuple[int, int, int] | None  # (reference, total, sequence)
    dcs: int


def read_submit(tpdu: bytes) -> Submitted:
    if len(tpdu) < 2:
        raise BadPdu("too short")
    fo = tpdu[0]
    if fo & 3 != 1:
        raise BadPdu("not an SMS-SUBMIT")
    destination, at = read_address(tpdu, 2)
    if at + 2 > len(tpdu):
        raise BadPdu("cut short after TP-DA")
    dcs = tpdu[at + 1]
    at += 2
    at += {0: 0, 2: 1}.get((fo >> 3) & 3, 7)  # TP-VPF: none, relative, enhanced/absolute
    if at >= len(tpdu):
        raise BadPdu("no TP-UDL")
    udl, ud = tpdu[at], tpdu[at + 1 :]
    header = b""
    if fo & 0x40:
        if not ud or len(ud) < 1 + ud[0]:
            raise BadPdu("user data header cut short")
        header = ud[1 : 1 + ud[0]]
    concat = _concat_of(header)
    coding = alphabet_of(dcs)
    if coding == 0:
        if (udl * 7 + 7) // 8 != len(ud):
            raise BadPdu("TP-UDL does not match the user data")
        hdr_bits = (len(header) + 1) * 8 if fo & 0x40 else 0
        skip = -(-hdr_bits // 7)  # whole septets taken by the header and fill bits
        if skip > udl:
            raise BadPdu("header longer than the user data")
        text = from_septets(septets_from(ud, skip * 7, udl - skip))
    else:
        if udl != len(ud) or udl > 140:
            raise BadPdu("TP-UDL does not match the user data")
        body = ud[len(header) + 1 :] if fo & 0x40 else ud
        if coding == 2:
            if len(body) % 2:
                raise BadPdu("odd UCS2 length")
            text = body.decode("utf-16-be", errors="replace")
        else:
            text = body.decode("latin-1")
    return Submitted(destination, text, tpdu[1], bool(fo & 0x20), concat, dcs)


def alphabet_of(dcs: int) -> int:
    """TS 23.038 §4: 0 = GSM 7-bit, 1 = 8-bit data, 2 = UCS2."""
    group = dcs >> 4
    if group < 8:  # general data coding, with or without automatic deletion
        if dcs & 0x20 or (dcs >> 2) & 3 == 3:
            raise BadPdu("compressed or reserved coding")
        return (dcs >> 2) & 3
    if group == 0xF:
        return 1 if dcs & 4 else 0
    if group in (0xC, 0xD, 0xE):
        return 2 if group == 0xE else 0
    raise BadPdu("reserved coding group")


def _concat_of(header: bytes) -> tuple[int, int, int] | None:
    k, found = 0, None
    while k + 1 < len(header):
        iei, size = header[k], header[k + 1]
        value = header[k + 2 : k + 2 + size]
        if len(value) != size:
            raise BadPdu("information element cut short")
        if iei == 0 and size == 3:
            found = (value[0], value[1], value[2])
        elif iei == 8 and size == 4:
            found = (value[0] * 256 + value[1], value[2], value[3])
        k += 2 + size
    return found


# ---- SMS-DELIVER and SMS-STATUS-REPORT ----------------------------------------------------------
def deliver_pdus(sender: str, text: str, when: datetime.datetime, ref: int) -> list[bytes]:
    """SMS-DELIVER TPDUs for `text`, concatenated (8-bit reference IE) when it is long."""
    septets = to_septets(text)
    if septets is not None:
        per_single, per_part, cost = 160, 153, [2 if c in _EXTENDED else 1 for c in text]
    else:
        per_single, per_part, cost = 70, 67, [2 if ord(c) > 0xFFFF else 1 for c in text]
    chunks: list[str] = []
    if sum(cost) <= per_single:
        chunks = [text]
    else:
        cur, used = "", 0
        for c, w in zip(text, cost, strict=True):
            if used + w > per_part:
                chunks.append(cur)
                cur, used = "", 0
            cur += c
            used += w
        chunks.append(cur)
    out = []
    for seq, chunk in enumerate(chunks, 1):
        udh = bytes([5, 0, 3, ref & 0xFF, len(chunks), seq]) if len(chunks) > 1 else b""
        fo = 0x04 | (0x40 if udh else 0)  # SMS-DELIVER, TP-MMS, TP-UDHI
        head = bytes([fo]) + write_address(sender) + bytes([0, 0 if septets is not None else 8])
        head += timestamp(when)
        if septets is not None:
            values = to_septets(chunk) or []
            lead = -(-len(udh) * 8 // 7) * 7 - len(udh) * 8 if udh else 0
            body = udh + septets_to(values, lead)
            udl = (len(udh) * 8 + lead) // 7 + len(values)
        else:
            body = udh + chunk.encode("utf-16-be", errors="replace")
            udl = len(body)
        out.append(head + bytes([udl]) + body)
    return out


def status_report_pdu(
    mr: int, recipient: str, sent: datetime.datetime, done: datetime.datetime, st: int
) -> bytes:
    """SMS-STATUS-REPORT: TP-MTI 10, TP-MR, TP-RA, TP-SCTS, TP-DT, TP-ST (§9.2.2.3)."""
    return bytes([0x02, mr]) + write_address(recipient) + timestamp(sent) + timestamp(done) + bytes([st])
