"""Sans-I/O SMS alphabets (3GPP TS 23.038): the GSM 7-bit default alphabet with its extension
table (§6.2.1, §6.2.1.1), septet packing (§6.1.2.1.1) and the Data Coding Scheme (§4) that says
which alphabet (GSM 7-bit, 8-bit data or UCS-2, §6.2.3) the user data uses. Every decoding
problem of the modem's SMS codec raises `PduError` (defined here, the bottom of that codec).
"""

from __future__ import annotations

from enum import StrEnum

from adapters.errors import ProtocolError

__all__ = [
    "DCS_CODES",
    "ESC",
    "EXTENSION_CODE",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "Alphabet",
    "PduError",
    "alphabet_for",
    "gsm7_decode",
    "gsm7_encode",
    "pack_septets",
    "unpack_septets",
]


class PduError(ProtocolError):
    """An SMS TPDU (or a piece of one) that does not follow TS 23.040 / TS 23.038: the GSM
    modem's PDU codec, not `adapters.smpp`'s PDU error (SMPP 3.4 wire PDUs)."""

    codec = "sms_pdu"


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
EXTENSION_CODE = {ch: code for code, ch in GSM7_EXTENSION.items()}


def gsm7_encode(text: str) -> list[int] | None:
    """Septets for `text`, or None when a character is outside the default alphabet + extension."""
    out: list[int] = []
    for ch in text:
        code = _BASIC_CODE.get(ch)
        if code is not None:
            out.append(code)
            continue
        ext = EXTENSION_CODE.get(ch)
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


DCS_CODES = {Alphabet.GSM7: 0x00, Alphabet.DATA8: 0x04, Alphabet.UCS2: 0x08}


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
