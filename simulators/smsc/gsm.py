"""The GSM 03.38 default alphabet (3GPP TS 23.038 §6.2.1) and the data_codings the simulator
reads (SMPP 3.4 §5.2.19)."""

from __future__ import annotations

# 3GPP TS 23.038 §6.2.1 default alphabet, row by row (0x00-0x0F, 0x10-0x1F, …); 0x1B = escape.
_GSM_ROWS = (
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
)
GSM = "".join(_GSM_ROWS)
GSM_EXT = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~", 0x3E: "]"}
GSM_EXT |= {0x40: "|", 0x65: "€"}
GSM_EXT_REV = {v: k for k, v in GSM_EXT.items()}


def gsm_decode(data: bytes) -> str:
    out, esc = [], False
    for b in data:
        if esc:
            out.append(GSM_EXT.get(b, "?"))
            esc = False
        elif b == 0x1B:
            esc = True
        else:
            out.append(GSM[b] if b < 128 else "?")
    return "".join(out)


def gsm_encode(text: str) -> bytes | None:
    out = bytearray()
    for ch in text:
        if ch in GSM_EXT_REV:
            out += bytes((0x1B, GSM_EXT_REV[ch]))
        elif ch in GSM and ch != "\x1b":
            out.append(GSM.index(ch))
        else:
            return None
    return bytes(out)


def decode_text(data: bytes, coding: int) -> str:
    if coding == 8:
        return data.decode("utf-16-be", errors="replace")
    if coding in (3, 2, 4):
        return data.decode("latin-1")
    if coding == 1:
        return data.decode("ascii", errors="replace")
    return gsm_decode(data)
