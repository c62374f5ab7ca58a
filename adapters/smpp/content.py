"""What travels inside short_message, sans-I/O: text encodings, UDH concatenation, delivery
receipts, and the meaning of a deliver_sm (receipt or mobile-originated text).

- data_coding (SMPP 3.4 §5.2.19): 0 = SMSC default alphabet, sent here as the GSM 03.38 default
  alphabet one septet per octet (3GPP TS 23.038 §6.2.1, unpacked, as SMSCs expect over SMPP);
  8 = UCS2 (UTF-16BE). Text that the GSM alphabet cannot carry goes as UCS2.
- Concatenation: esm_class UDHI (§5.2.12) and a User Data Header with information element 0x00
  (8-bit reference) or 0x08 (16-bit reference), 3GPP TS 23.040 §9.2.3.24.1 / §9.2.3.24.8.
  Inbound parts may also come with the sar_* TLVs (§5.3.2.22-24).
- Delivery receipts: Appendix B text `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:…
  text:…` and/or the TLVs receipted_message_id (§5.3.2.12), message_state (§5.3.2.35) and
  network_error_code (§5.3.2.31).
"""

from __future__ import annotations

import contextlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from adapters.smpp import codec
from adapters.smpp.codec import MessageState, SmppError, Tag

# 3GPP TS 23.038 §6.2.1: the default alphabet, by septet value 0x00..0x7F (0x1B is the escape).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# §6.2.1.1: the extension table, reached with 0x1B.
GSM7_EXTENSION = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E}
GSM7_EXTENSION |= {"|": 0x40, "€": 0x65}
ESCAPE = 0x1B
_ENCODE = {ch: bytes([i]) for i, ch in enumerate(GSM7_BASIC) if i != ESCAPE}
_ENCODE |= {ch: bytes([ESCAPE, v]) for ch, v in GSM7_EXTENSION.items()}
_DECODE_EXT = {v: ch for ch, v in GSM7_EXTENSION.items()}

GSM7_SINGLE, GSM7_PART = 160, 153  # septets; a part loses 7 septets to the 6-octet UDH
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units; 140 octets, less the UDH
MAX_PARTS = 255  # the concatenation IE counts parts in one octet

Encoding = Literal["auto", "ucs2"]


class ContentError(SmppError):
    """Text that cannot be encoded as asked, or a short_message that makes no sense."""


class ReceiptFormatError(SmppError):
    """A deliver_sm flagged as a receipt whose text and TLVs name no message or state."""


# ---- encodings ------------------------------------------------------------------------------------
def gsm7_encodable(text: str) -> bool:
    return all(ch in _ENCODE for ch in text)


def gsm7_encode(text: str) -> bytes:
    try:
        return b"".join(_ENCODE[ch] for ch in text)
    except KeyError as exc:
        raise ContentError(f"{exc.args[0]!r} is not in the GSM 03.38 default alphabet") from None


def gsm7_decode(data: bytes) -> str:
    """Unpacked septets to text; an unknown octet or a dangling escape becomes '?'."""
    out: list[str] = []
    i = 0
    while i < len(data):
        b = data[i]
        if b == ESCAPE and i + 1 < len(data):
            out.append(_DECODE_EXT.get(data[i + 1], "?"))
            i += 2
            continue
        out.append(GSM7_BASIC[b] if b < 0x80 and b != ESCAPE else "?")
        i += 1
    return "".join(out)


def decode_text(data: bytes, data_coding: int) -> str:
    """short_message octets to text by data_coding (§5.2.19); never raises."""
    if data_coding == codec.DC_UCS2:
        return data.decode("utf-16-be", errors="replace")
    if data_coding in (codec.DC_LATIN1, codec.DC_OCTET, codec.DC_OCTET_UNSPECIFIED):
        return data.decode("latin-1")
    if data_coding == codec.DC_IA5:
        return data.decode("ascii", errors="replace")
    return gsm7_decode(data)


# ---- splitting into parts -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Part:
    data_coding: int
    esm_class: int
    short_message: bytes  # UDH included when esm_class has UDHI


def _split_gsm7(text: str, size: int) -> list[bytes]:
    """Chunks of at most `size` septets; an escape pair is never cut in two."""
    parts: list[bytes] = []
    cur = bytearray()
    for ch in text:
        enc = _ENCODE[ch]
        if len(cur) + len(enc) > size:
            parts.append(bytes(cur))
            cur = bytearray()
        cur += enc
    parts.append(bytes(cur))
    return parts


def _split_ucs2(text: str, size: int) -> list[bytes]:
    """Chunks of at most `size` UTF-16 code units; a surrogate pair is never cut in two."""
    parts: list[bytes] = []
    cur = bytearray()
    for ch in text:
        enc = ch.encode("utf-16-be")
        if len(cur) + len(enc) > 2 * size:
            parts.append(bytes(cur))
            cur = bytearray()
        cur += enc
    parts.append(bytes(cur))
    return parts


def udh_concat(ref: int, total: int, seq: int) -> bytes:
    """TS 23.040 §9.2.3.24.1: UDHL=5, IEI 0x00, IEDL 3, reference, total, sequence (from 1)."""
    return bytes((5, 0x00, 3, ref & 0xFF, total, seq))


def split_text(text: str, *, ref: int, encoding: Encoding = "auto") -> list[Part]:
    """The submit_sm payloads for `text`: one part, or UDH-concatenated parts sharing `ref`."""
    if encoding == "auto" and gsm7_encodable(text):
        coding, single, size, chunker = codec.DC_DEFAULT, GSM7_SINGLE, GSM7_PART, _split_gsm7
        whole_len = len(gsm7_encode(text))
    else:
        coding, single, size, chunker = codec.DC_UCS2, UCS2_SINGLE, UCS2_PART, _split_ucs2
        whole_len = len(text.encode("utf-16-be")) // 2
    if whole_len <= single:
        return [Part(coding, 0, chunker(text, single)[0])]
    chunks = chunker(text, size)
    if len(chunks) > MAX_PARTS:
        raise ContentError(f"text needs {len(chunks)} parts; at most {MAX_PARTS} can be concatenated")
    return [
        Part(coding, codec.ESM_UDHI, udh_concat(ref, len(chunks), n) + chunk)
        for n, chunk in enumerate(chunks, start=1)
    ]


@dataclass(frozen=True, slots=True)
class Concat:
    ref: int
    total: int
    seq: int


def parse_udh(data: bytes) -> tuple[Concat | None, bytes]:
    """Split a short_message with UDHI into its concatenation IE (if any) and the user data."""
    if not data:
        raise ContentError("UDHI set but short_message is empty")
    udhl = data[0]
    if 1 + udhl > len(data):
        raise ContentError(f"UDH length {udhl} exceeds the {len(data)}-octet short_message")
    udh, rest = data[1 : 1 + udhl], data[1 + udhl :]
    concat: Concat | None = None
    i = 0
    while i + 2 <= len(udh):
        iei, iedl = udh[i], udh[i + 1]
        value = udh[i + 2 : i + 2 + iedl]
        if len(value) != iedl:
            raise ContentError("truncated UDH information element")
        if iei == 0x00 and iedl == 3:
            concat = Concat(value[0], value[1], value[2])
        elif iei == 0x08 and iedl == 4:
            concat = Concat(int.from_bytes(value[:2], "big"), value[2], value[3])
        i += 2 + iedl
    return concat, rest


# ---- receipts (Appendix B) ------------------------------------------------------------------------
STAT_STATES = {
    "DELIVRD": MessageState.DELIVERED,
    "EXPIRED": MessageState.EXPIRED,
    "DELETED": MessageState.DELETED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "ACCEPTD": MessageState.ACCEPTED,
    "UNKNOWN": MessageState.UNKNOWN,
    "REJECTD": MessageState.REJECTED,
    "ENROUTE": MessageState.ENROUTE,
}
FINAL_FAILURES = frozenset(
    {MessageState.EXPIRED, MessageState.DELETED, MessageState.UNDELIVERABLE, MessageState.REJECTED}
)
_RECEIPT_KEYS = re.compile(r"(?i)\b(id|sub|dlvrd|submit date|done date|stat|err|text):")


@dataclass(frozen=True, slots=True)
class ReceiptText:
    message_id: str
    stat: str
    sub: str = ""
    dlvrd: str = ""
    submit_date: str = ""
    done_date: str = ""
    err: str = ""
    text: str = ""


def parse_receipt_text(text: str) -> ReceiptText:
    """Appendix B, tolerant of the variants seen in the wild (case, seconds in dates, field order,
    missing fields). `text:` runs to the end, as it is free text."""
    fields: dict[str, str] = {}
    marks = list(_RECEIPT_KEYS.finditer(text))
    for n, m in enumerate(marks):
        key = m.group(1).lower()
        if key in fields:
            continue
        end = len(text) if key == "text" or n + 1 == len(marks) else marks[n + 1].start()
        fields[key] = text[m.end() : end].strip() if key != "text" else text[m.end() :]
        if key == "text":
            break
    message_id, stat = fields.get("id", "").strip(), fields.get("stat", "").strip().upper()
    if not message_id or not stat:
        raise ReceiptFormatError(f"not a delivery receipt (needs id: and stat:): {text[:80]!r}")
    return ReceiptText(
        message_id=message_id,
        stat=stat,
        sub=fields.get("sub", ""),
        dlvrd=fields.get("dlvrd", ""),
        submit_date=fields.get("submit date", ""),
        done_date=fields.get("done date", ""),
        err=fields.get("err", ""),
        text=fields.get("text", ""),
    )


def format_receipt_text(r: ReceiptText) -> str:
    return (
        f"id:{r.message_id} sub:{r.sub or '001'} dlvrd:{r.dlvrd or '001'} submit date:{r.submit_date} "
        f"done date:{r.done_date} stat:{r.stat} err:{r.err or '000'} text:{r.text}"
    )


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery receipt: which message (as the SMSC names it) and in what state."""

    message_id: str
    state: MessageState | None  # None: a stat the spec does not name
    stat: str
    err: str
    from_tlv: bool  # message_id came from receipted_message_id (same form as submit_sm_resp)

    @property
    def final(self) -> bool:
        return self.state is MessageState.DELIVERED or self.state in FINAL_FAILURES

    @property
    def delivered(self) -> bool:
        return self.state is MessageState.DELIVERED


@dataclass(frozen=True, slots=True)
class MobileOriginated:
    """Text from a handset. `concat` set: one part of a longer message."""

    source: str
    source_ton: int
    destination: str
    text: str
    concat: Concat | None = None


def interpret_deliver(pdu: codec.ShortMessage) -> Receipt | MobileOriginated:
    """A deliver_sm is a receipt when esm_class says so (§5.2.12: 0x04, 0x08, 0x20) or when it
    carries receipted_message_id; otherwise it is a mobile-originated message."""
    payload = codec.tlv_value(pdu.tlvs, Tag.MESSAGE_PAYLOAD)
    data = pdu.short_message if payload is None or pdu.short_message else payload
    tlv_id = codec.tlv_text(pdu.tlvs, Tag.RECEIPTED_MESSAGE_ID)
    kind = pdu.esm_class & codec.ESM_TYPE_MASK
    if kind & (codec.ESM_SMSC_RECEIPT | codec.ESM_SME_ACK | codec.ESM_INTERMEDIATE) or tlv_id:
        return _receipt(pdu, data, tlv_id)
    concat: Concat | None = None
    if pdu.esm_class & codec.ESM_UDHI:
        concat, data = parse_udh(data)
    else:
        ref = codec.tlv_int(pdu.tlvs, Tag.SAR_MSG_REF_NUM)
        total = codec.tlv_int(pdu.tlvs, Tag.SAR_TOTAL_SEGMENTS)
        seq = codec.tlv_int(pdu.tlvs, Tag.SAR_SEGMENT_SEQNUM)
        if ref is not None and total and seq:
            concat = Concat(ref, total, seq)
    return MobileOriginated(
        source=pdu.source_addr,
        source_ton=pdu.source_addr_ton,
        destination=pdu.destination_addr,
        text=decode_text(data, pdu.data_coding),
        concat=concat,
    )


def _receipt(pdu: codec.ShortMessage, data: bytes, tlv_id: str | None) -> Receipt:
    parsed: ReceiptText | None = None
    try:
        parsed = parse_receipt_text(decode_text(data, pdu.data_coding))
    except ReceiptFormatError:
        if not tlv_id:
            raise
    state: MessageState | None = None
    raw_state = codec.tlv_int(pdu.tlvs, Tag.MESSAGE_STATE)
    if raw_state is not None:
        with contextlib.suppress(ValueError):
            state = MessageState(raw_state)
    if state is None and parsed is not None:
        state = STAT_STATES.get(parsed.stat)
    if state is None and parsed is None:
        raise ReceiptFormatError("receipt with receipted_message_id but no message_state nor stat:")
    err = parsed.err if parsed else ""
    nec = codec.tlv_value(pdu.tlvs, Tag.NETWORK_ERROR_CODE)
    if nec is not None and len(nec) == 3:  # §5.3.2.31: network type, then a 2-octet code
        err = err or str(int.from_bytes(nec[1:], "big"))
    return Receipt(
        message_id=tlv_id or (parsed.message_id if parsed else ""),
        state=state,
        stat=parsed.stat if parsed else (state.name if state else ""),
        err=err,
        from_tlv=bool(tlv_id),
    )


RadixMode = Literal["same", "hex", "dec"]


def receipt_reference(receipt: Receipt, radix: RadixMode) -> str:
    """The submit_sm_resp message_id a receipt is about. TLV ids are already in that form;
    the text id may be printed in another radix (hex: the SMSC prints decimal ids in hex;
    dec: it prints hex ids in decimal)."""
    mid = receipt.message_id
    if receipt.from_tlv or radix == "same":
        return mid
    try:
        return str(int(mid, 16)) if radix == "hex" else format(int(mid, 10), "x")
    except ValueError:
        return mid


# ---- reassembly of inbound concatenated messages --------------------------------------------------
class Reassembler:
    """Collects the parts of concatenated inbound messages; bounded, oldest dropped first."""

    def __init__(self, *, limit: int = 256) -> None:
        self.limit = limit
        self._pending: OrderedDict[tuple[str, int, int], dict[int, str]] = OrderedDict()

    def add(self, source: str, concat: Concat, text: str) -> str | None:
        """The whole text once every part has arrived, else None. Bad numbering: the part as is."""
        if concat.total < 2 or not 1 <= concat.seq <= concat.total:
            return text
        key = (source, concat.ref, concat.total)
        parts = self._pending.setdefault(key, {})
        parts[concat.seq] = text
        if len(parts) < concat.total:
            while len(self._pending) > self.limit:
                self._pending.popitem(last=False)
            return None
        del self._pending[key]
        return "".join(parts[i] for i in range(1, concat.total + 1))
