"""Sans-I/O SMS TPDUs (3GPP TS 23.040); their fields are in `pdu_fields.py`, the alphabets
(3GPP TS 23.038) in `alphabet.py`.

SMS-SUBMIT (§9.2.2.2) is what we send, SMS-DELIVER (§9.2.2.1) is a reply, SMS-STATUS-REPORT
(§9.2.2.3) is a delivery report. Text uses the GSM 7-bit default alphabet with its extension table
(TS 23.038 §6.2.1, §6.2.1.1) or UCS-2 (§6.2.3). Long texts are concatenated with a User Data
Header (TS 23.040 §9.2.3.24.1). Every decoding problem raises `PduError`, nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from adapters.sms_modem.alphabet import (
    DCS_CODES,
    EXTENSION_CODE,
    Alphabet,
    PduError,
    alphabet_for,
    gsm7_encode,
)
from adapters.sms_modem.pdu_fields import (
    Concat,
    decode_address,
    decode_scts,
    decode_user_data,
    encode_address,
    encode_scts,
    encode_smsc,
    encode_user_data,
)

__all__ = [
    "Deliver",
    "StatusReport",
    "Submit",
    "SubmitPart",
    "decode_any",
    "decode_deliver",
    "decode_status_report",
    "decode_submit",
    "encode_deliver",
    "encode_status_report",
    "encode_submit",
    "submit_parts",
]


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
    udl, ud = encode_user_data(sub.text, sub.alphabet, sub.concat)
    vp = bytes([sub.validity]) if sub.validity is not None else b""
    head = bytes([first, sub.mr & 0xFF]) + encode_address(sub.destination, allow_name=False)
    return head + bytes([sub.pid, DCS_CODES[sub.alphabet]]) + vp + bytes([udl]) + ud


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
    text, concat = decode_user_data(tpdu, pos, dcs, bool(first & 0x40))
    return Submit(destination, text, alphabet_for(dcs), mr, bool(first & 0x20), validity, concat, pid)


def encode_deliver(d: Deliver) -> bytes:
    first = MTI_DELIVER | 0x04  # TP-MMS: no more messages waiting (§9.2.3.2)
    if d.concat is not None:
        first |= 0x40
    udl, ud = encode_user_data(d.text, d.alphabet, d.concat)
    head = bytes([first]) + encode_address(d.sender) + bytes([d.pid, DCS_CODES[d.alphabet]])
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
    text, concat = decode_user_data(tpdu, pos + 9, dcs, bool(first & 0x40))
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
        return 2 if ch in EXTENSION_CODE else 1
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
