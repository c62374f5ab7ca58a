"""SMPP 3.4 wire format, sans-I/O: PDUs to bytes and back, and a streaming splitter.

Nothing here touches a socket or a clock. `PduSplitter.feed` takes whatever chunks the socket
gives and returns whole PDUs; `decode` turns one PDU into a frozen dataclass (`pdus.py`);
`encode` does the reverse. Every failure is an `SmppError` (`errors.py`) that carries what a peer
needs to answer it (generic_nack with the right command_status and sequence_number, §4.3). The
numbers of the protocol are in `protocol.py`; this module re-exports all three so callers can
keep writing `codec.X`.

Section numbers refer to SMPP v3.4 Issue 1.2 (12 Oct 1999).
"""

from __future__ import annotations

import struct
from typing import TypeVar

from adapters.smpp.errors import FieldError, FramingError, PduError, SmppError, UnknownCommandError
from adapters.smpp.pdus import (
    Bind,
    BindResp,
    DeliverSm,
    DeliverSmResp,
    Empty,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    ShortMessage,
    SubmitSm,
    SubmitSmResp,
    Tlv,
    Unbind,
    UnbindResp,
    tlv_int,
    tlv_text,
    tlv_value,
)
from adapters.smpp.protocol import (
    DC_DEFAULT,
    DC_IA5,
    DC_LATIN1,
    DC_OCTET,
    DC_OCTET_UNSPECIFIED,
    DC_UCS2,
    DEFAULT_MAX_PDU,
    ESM_INTERMEDIATE,
    ESM_SME_ACK,
    ESM_SMSC_RECEIPT,
    ESM_TYPE_MASK,
    ESM_UDHI,
    ESM_USER_ACK,
    HEADER,
    HEADER_LEN,
    INTERFACE_VERSION,
    MAX_SEQUENCE,
    RD_FAILURE,
    RD_FINAL,
    RD_NONE,
    RESPONSE_BIT,
    TEMPORARY_STATUSES,
    BindMode,
    CommandId,
    MessageState,
    Status,
    Tag,
    is_response,
    status_name,
)

__all__ = [
    "DC_DEFAULT",
    "DC_IA5",
    "DC_LATIN1",
    "DC_OCTET",
    "DC_OCTET_UNSPECIFIED",
    "DC_UCS2",
    "DEFAULT_MAX_PDU",
    "ESM_INTERMEDIATE",
    "ESM_SME_ACK",
    "ESM_SMSC_RECEIPT",
    "ESM_TYPE_MASK",
    "ESM_UDHI",
    "ESM_USER_ACK",
    "HEADER",
    "HEADER_LEN",
    "INTERFACE_VERSION",
    "MAX_SEQUENCE",
    "RD_FAILURE",
    "RD_FINAL",
    "RD_NONE",
    "RESPONSE_BIT",
    "TEMPORARY_STATUSES",
    "Bind",
    "BindMode",
    "BindResp",
    "CommandId",
    "DeliverSm",
    "DeliverSmResp",
    "Empty",
    "EnquireLink",
    "EnquireLinkResp",
    "FieldError",
    "FramingError",
    "GenericNack",
    "MessageState",
    "Pdu",
    "PduError",
    "PduSplitter",
    "ShortMessage",
    "SmppError",
    "Status",
    "SubmitSm",
    "SubmitSmResp",
    "Tag",
    "Tlv",
    "Unbind",
    "UnbindResp",
    "UnknownCommandError",
    "decode",
    "encode",
    "is_response",
    "parse_header",
    "status_name",
    "tlv_int",
    "tlv_text",
    "tlv_value",
]

_U8 = struct.Struct(">B")
_TLV = struct.Struct(">HH")

_SM = TypeVar("_SM", SubmitSm, DeliverSm)
_EMPTY: dict[int, type[Empty]] = {
    CommandId.ENQUIRE_LINK: EnquireLink,
    CommandId.ENQUIRE_LINK_RESP: EnquireLinkResp,
    CommandId.UNBIND: Unbind,
    CommandId.UNBIND_RESP: UnbindResp,
    CommandId.GENERIC_NACK: GenericNack,
}


_BIND_RESPONSES = frozenset(int(m) | RESPONSE_BIT for m in BindMode)


# ---- encoding -------------------------------------------------------------------------------------
def _cstring(value: str, limit: int, name: str) -> bytes:
    """§3.1 C-Octet String: ASCII, NUL-terminated; `limit` counts the NUL."""
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError as exc:
        raise FieldError(f"{name} must be ASCII: {value!r}") from exc
    if b"\0" in raw or len(raw) + 1 > limit:
        raise FieldError(f"{name} must be at most {limit - 1} characters without NUL: {value!r}")
    return raw + b"\0"


def _octet(value: int, name: str) -> bytes:
    if not 0 <= value <= 0xFF:
        raise FieldError(f"{name} must fit in one octet, got {value}")
    return _U8.pack(value)


def _tlvs(tlvs: tuple[Tlv, ...]) -> bytes:
    out = bytearray()
    for t in tlvs:
        if not 0 <= t.tag <= 0xFFFF or len(t.value) > 0xFFFF:
            raise FieldError(f"TLV 0x{t.tag:04X} out of range")
        out += _TLV.pack(t.tag, len(t.value)) + t.value
    return bytes(out)


def _body(pdu: Pdu) -> bytes:
    if isinstance(pdu, Bind):  # §4.1.5
        return b"".join(
            (
                _cstring(pdu.system_id, 16, "system_id"),
                _cstring(pdu.password, 9, "password"),
                _cstring(pdu.system_type, 13, "system_type"),
                _octet(pdu.interface_version, "interface_version"),
                _octet(pdu.addr_ton, "addr_ton"),
                _octet(pdu.addr_npi, "addr_npi"),
                _cstring(pdu.address_range, 41, "address_range"),
            )
        )
    if isinstance(pdu, BindResp):  # §4.1.6
        if pdu.status and not pdu.system_id and not pdu.tlvs:
            return b""
        return _cstring(pdu.system_id, 16, "system_id") + _tlvs(pdu.tlvs)
    if isinstance(pdu, ShortMessage):  # §4.4.1 / §4.6.1
        if len(pdu.short_message) > 254:
            raise FieldError("short_message is limited to 254 octets; use message_payload (§5.3.2.32)")
        return b"".join(
            (
                _cstring(pdu.service_type, 6, "service_type"),
                _octet(pdu.source_addr_ton, "source_addr_ton"),
                _octet(pdu.source_addr_npi, "source_addr_npi"),
                _cstring(pdu.source_addr, 21, "source_addr"),
                _octet(pdu.dest_addr_ton, "dest_addr_ton"),
                _octet(pdu.dest_addr_npi, "dest_addr_npi"),
                _cstring(pdu.destination_addr, 21, "destination_addr"),
                _octet(pdu.esm_class, "esm_class"),
                _octet(pdu.protocol_id, "protocol_id"),
                _octet(pdu.priority_flag, "priority_flag"),
                _cstring(pdu.schedule_delivery_time, 17, "schedule_delivery_time"),
                _cstring(pdu.validity_period, 17, "validity_period"),
                _octet(pdu.registered_delivery, "registered_delivery"),
                _octet(pdu.replace_if_present_flag, "replace_if_present_flag"),
                _octet(pdu.data_coding, "data_coding"),
                _octet(pdu.sm_default_msg_id, "sm_default_msg_id"),
                _U8.pack(len(pdu.short_message)),
                pdu.short_message,
                _tlvs(pdu.tlvs),
            )
        )
    if isinstance(pdu, SubmitSmResp):  # §4.4.2
        return b"" if pdu.status else _cstring(pdu.message_id, 65, "message_id")
    if isinstance(pdu, DeliverSmResp):  # §4.6.2
        return _cstring(pdu.message_id, 65, "message_id")
    return b""


def encode(pdu: Pdu) -> bytes:
    """The PDU on the wire (§3.2)."""
    if not 0 <= pdu.sequence <= MAX_SEQUENCE:
        raise FieldError(f"sequence_number out of range: {pdu.sequence}")
    if not 0 <= pdu.status <= 0xFFFFFFFF:
        raise FieldError(f"command_status out of range: {pdu.status}")
    body = _body(pdu)
    return HEADER.pack(HEADER_LEN + len(body), pdu.command_id, pdu.status, pdu.sequence) + body


# ---- decoding -------------------------------------------------------------------------------------
class _Reader:
    """Reads the fields of one PDU body; any shortfall is a PduError for that PDU."""

    __slots__ = ("command_id", "data", "pos", "sequence")

    def __init__(self, data: bytes, command_id: int, sequence: int) -> None:
        self.data = data
        self.pos = 0
        self.command_id = command_id
        self.sequence = sequence

    def error(self, reason: str, status: int = Status.ESME_RINVCMDLEN) -> PduError:
        return PduError(reason, command_id=self.command_id, sequence=self.sequence, status=status)

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def cstring(self, name: str) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise self.error(f"{name}: no NUL before the end of the PDU")
        raw = self.data[self.pos : end]
        self.pos = end + 1
        return raw.decode("latin-1")  # §3.1 says ASCII; never fail on a stray 8-bit octet

    def u8(self, name: str) -> int:
        if self.pos >= len(self.data):
            raise self.error(f"{name}: PDU ends early")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def octets(self, n: int, name: str) -> bytes:
        if self.pos + n > len(self.data):
            raise self.error(f"{name}: {n} octets announced, PDU ends early", Status.ESME_RINVMSGLEN)
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        return raw

    def tlvs(self) -> tuple[Tlv, ...]:
        out: list[Tlv] = []
        while not self.at_end():
            if self.pos + _TLV.size > len(self.data):
                raise self.error("truncated TLV header", Status.ESME_RINVOPTPARSTREAM)
            tag, length = _TLV.unpack_from(self.data, self.pos)
            self.pos += _TLV.size
            if self.pos + length > len(self.data):
                raise self.error(f"TLV 0x{tag:04X} longer than the PDU", Status.ESME_RINVOPTPARSTREAM)
            out.append(Tlv(tag, self.data[self.pos : self.pos + length]))
            self.pos += length
        return tuple(out)


def _short_message(r: _Reader, cls: type[_SM], status: int) -> _SM:
    return cls(
        sequence=r.sequence,
        status=status,
        service_type=r.cstring("service_type"),
        source_addr_ton=r.u8("source_addr_ton"),
        source_addr_npi=r.u8("source_addr_npi"),
        source_addr=r.cstring("source_addr"),
        dest_addr_ton=r.u8("dest_addr_ton"),
        dest_addr_npi=r.u8("dest_addr_npi"),
        destination_addr=r.cstring("destination_addr"),
        esm_class=r.u8("esm_class"),
        protocol_id=r.u8("protocol_id"),
        priority_flag=r.u8("priority_flag"),
        schedule_delivery_time=r.cstring("schedule_delivery_time"),
        validity_period=r.cstring("validity_period"),
        registered_delivery=r.u8("registered_delivery"),
        replace_if_present_flag=r.u8("replace_if_present_flag"),
        data_coding=r.u8("data_coding"),
        sm_default_msg_id=r.u8("sm_default_msg_id"),
        short_message=r.octets(r.u8("sm_length"), "short_message"),
        tlvs=r.tlvs(),
    )


def parse_header(frame: bytes) -> tuple[int, int, int, int]:
    """(command_length, command_id, command_status, sequence_number) of a whole frame."""
    if len(frame) < HEADER_LEN:
        raise FramingError(f"a PDU needs {HEADER_LEN} header octets, got {len(frame)}", command_length=0)
    length, command_id, status, sequence = HEADER.unpack_from(frame)
    if length != len(frame):
        raise FramingError(
            f"command_length {length} does not match the {len(frame)} octets given", command_length=length
        )
    return length, command_id, status, sequence


def decode(frame: bytes) -> Pdu:
    """One whole PDU (as returned by PduSplitter) to its dataclass."""
    _, command_id, status, sequence = parse_header(frame)
    r = _Reader(frame[HEADER_LEN:], command_id, sequence)
    pdu: Pdu
    if command_id in (CommandId.BIND_TRANSCEIVER, CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER):
        pdu = Bind(
            sequence=sequence,
            status=status,
            mode=BindMode(command_id),
            system_id=r.cstring("system_id"),
            password=r.cstring("password"),
            system_type=r.cstring("system_type"),
            interface_version=r.u8("interface_version"),
            addr_ton=r.u8("addr_ton"),
            addr_npi=r.u8("addr_npi"),
            address_range=r.cstring("address_range"),
        )
    elif command_id in _BIND_RESPONSES:
        empty = r.at_end()
        pdu = BindResp(
            sequence=sequence,
            status=status,
            mode=BindMode(command_id & ~RESPONSE_BIT),
            system_id="" if empty else r.cstring("system_id"),
            tlvs=() if empty else r.tlvs(),
        )
    elif command_id == CommandId.SUBMIT_SM:
        pdu = _short_message(r, SubmitSm, status)
    elif command_id == CommandId.DELIVER_SM:
        pdu = _short_message(r, DeliverSm, status)
    elif command_id == CommandId.SUBMIT_SM_RESP:
        pdu = SubmitSmResp(
            sequence=sequence, status=status, message_id="" if r.at_end() else r.cstring("message_id")
        )
    elif command_id == CommandId.DELIVER_SM_RESP:
        pdu = DeliverSmResp(
            sequence=sequence, status=status, message_id="" if r.at_end() else r.cstring("message_id")
        )
    elif command_id in _EMPTY:
        pdu = _EMPTY[command_id](sequence=sequence, status=status)
    else:
        raise UnknownCommandError(command_id=command_id, sequence=sequence)
    if not r.at_end():
        raise r.error(f"{len(r.data) - r.pos} octets left after the body")
    return pdu


class PduSplitter:
    """Cuts a TCP byte stream into PDUs (§3.2: command_length counts the whole PDU).

    `feed` accepts chunks of any size and returns the PDUs they complete. A command_length under
    16 or above `max_length` makes the stream unrecoverable: FramingError, then the splitter stays
    broken (the caller closes the session, as a parser error must never be silently skipped).
    """

    def __init__(self, *, max_length: int = DEFAULT_MAX_PDU) -> None:
        self.max_length = max_length
        self._buf = bytearray()
        self._broken: FramingError | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        if self._broken is not None:
            raise self._broken
        self._buf += data
        frames: list[bytes] = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 4:
            (length,) = struct.unpack_from(">I", buf, pos)
            if length < HEADER_LEN or length > self.max_length:
                self._broken = FramingError(
                    f"impossible command_length {length} (allowed {HEADER_LEN}..{self.max_length})",
                    command_length=length,
                )
                del buf[:pos]
                raise self._broken
            if len(buf) - pos < length:
                break
            frames.append(bytes(buf[pos : pos + length]))
            pos += length
        del buf[:pos]
        return frames
