"""SMPP 3.4 wire format, sans-I/O: PDUs to bytes and back, and a streaming splitter.

Nothing here touches a socket or a clock. `PduSplitter.feed` takes whatever chunks the socket
gives and returns whole PDUs; `decode` turns one PDU into a frozen dataclass; `encode` does the
reverse. Every failure is an `SmppError` subclass that carries what a peer needs to answer it
(generic_nack with the right command_status and sequence_number, §4.3).

Section numbers refer to SMPP v3.4 Issue 1.2 (12 Oct 1999).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, TypeVar

from gateway.errors import CalloutError

# §3.2: command_length, command_id, command_status, sequence_number; 4-octet big-endian integers.
HEADER = struct.Struct(">IIII")
HEADER_LEN = HEADER.size
MAX_SEQUENCE = 0x7FFFFFFF  # §3.2: sequence_number 0x00000001 to 0x7FFFFFFF
RESPONSE_BIT = 0x80000000  # §5.1.2.1: a response's command_id is its request's with bit 31 set
DEFAULT_MAX_PDU = 64 * 1024  # far above any PDU we use; message_payload is at most 64 KiB
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_TLV = struct.Struct(">HH")


class CommandId(IntEnum):
    """§5.1.2.1, table 5-1."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


class Status(IntEnum):
    """§5.1.3, table 5-2: command_status values we produce or act on."""

    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RINVBNDSTS = 0x04
    ESME_RALYBND = 0x05
    ESME_RSYSERR = 0x08
    ESME_RINVSRCADR = 0x0A
    ESME_RINVDSTADR = 0x0B
    ESME_RINVMSGID = 0x0C
    ESME_RBINDFAIL = 0x0D
    ESME_RINVPASWD = 0x0E
    ESME_RINVSYSID = 0x0F
    ESME_RMSGQFUL = 0x14
    ESME_RINVESMCLASS = 0x43
    ESME_RSUBMITFAIL = 0x45
    ESME_RTHROTTLED = 0x58
    ESME_RX_T_APPN = 0x64
    ESME_RX_P_APPN = 0x65
    ESME_RX_R_APPN = 0x66
    ESME_RINVOPTPARSTREAM = 0xC0
    ESME_RUNKNOWNERR = 0xFF


# Statuses after which the same message may succeed later on the same channel. ESME_RTHROTTLED and
# ESME_RMSGQFUL are also retried inside the channel with back-off before anything is reported.
TEMPORARY_STATUSES = frozenset(
    {
        Status.ESME_RSYSERR,
        Status.ESME_RMSGQFUL,
        Status.ESME_RTHROTTLED,
        Status.ESME_RX_T_APPN,
        Status.ESME_RUNKNOWNERR,
    }
)


def status_name(status: int) -> str:
    try:
        return f"{Status(status).name} (0x{status:02X})"
    except ValueError:
        return f"command_status 0x{status:08X}"


class BindMode(IntEnum):
    """The three bind operations (§4.1); the value is the request's command_id."""

    RECEIVER = CommandId.BIND_RECEIVER
    TRANSMITTER = CommandId.BIND_TRANSMITTER
    TRANSCEIVER = CommandId.BIND_TRANSCEIVER


class Tag(IntEnum):
    """§5.3.2: optional parameter tags used here."""

    RECEIPTED_MESSAGE_ID = 0x001E
    SAR_MSG_REF_NUM = 0x020C
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427


class MessageState(IntEnum):
    """§5.2.28: message_state."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


# §5.2.12 esm_class
ESM_UDHI = 0x40
ESM_TYPE_MASK = 0x3C
ESM_SMSC_RECEIPT = 0x04
ESM_SME_ACK = 0x08
ESM_USER_ACK = 0x10
ESM_INTERMEDIATE = 0x20
# §5.2.19 data_coding
DC_DEFAULT = 0x00
DC_IA5 = 0x01
DC_OCTET = 0x02
DC_LATIN1 = 0x03
DC_OCTET_UNSPECIFIED = 0x04
DC_UCS2 = 0x08
# §5.2.17 registered_delivery: bits 1-0
RD_NONE = 0x00
RD_FINAL = 0x01
RD_FAILURE = 0x02

INTERFACE_VERSION = 0x34


# ---- errors ---------------------------------------------------------------------------------------
class SmppError(CalloutError):
    """Anything wrong with SMPP data."""


class FramingError(SmppError):
    """The byte stream cannot be split any more (command_length impossible): close the session."""

    def __init__(self, reason: str, *, command_length: int) -> None:
        self.command_length = command_length
        super().__init__(reason)


class PduError(SmppError):
    """One PDU is malformed. The stream goes on; answer with `status` (§4.3 generic_nack)."""

    def __init__(self, reason: str, *, command_id: int, sequence: int, status: int) -> None:
        self.command_id = command_id
        self.sequence = sequence
        self.status = status
        super().__init__(reason)


class UnknownCommandError(PduError):
    """A command_id we do not implement (§5.1.2.1); answer generic_nack ESME_RINVCMDID."""

    def __init__(self, *, command_id: int, sequence: int) -> None:
        super().__init__(
            f"unsupported command_id 0x{command_id:08X}",
            command_id=command_id,
            sequence=sequence,
            status=Status.ESME_RINVCMDID,
        )


class FieldError(SmppError):
    """A value that cannot be encoded (too long, not ASCII, out of range)."""


# ---- PDUs -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Tlv:
    """§5.3.1: tag (2 octets), length (2 octets), value."""

    tag: int
    value: bytes

    @staticmethod
    def u8(tag: int, value: int) -> Tlv:
        return Tlv(tag, _U8.pack(value))

    @staticmethod
    def u16(tag: int, value: int) -> Tlv:
        return Tlv(tag, _U16.pack(value))

    @staticmethod
    def cstring(tag: int, value: str) -> Tlv:
        return Tlv(tag, value.encode("ascii") + b"\0")


def tlv_value(tlvs: tuple[Tlv, ...], tag: int) -> bytes | None:
    for t in tlvs:
        if t.tag == tag:
            return t.value
    return None


def tlv_int(tlvs: tuple[Tlv, ...], tag: int) -> int | None:
    raw = tlv_value(tlvs, tag)
    return int.from_bytes(raw, "big") if raw else None


def tlv_text(tlvs: tuple[Tlv, ...], tag: int) -> str | None:
    raw = tlv_value(tlvs, tag)
    return None if raw is None else raw.rstrip(b"\0").decode("latin-1")


@dataclass(frozen=True, slots=True, kw_only=True)
class Bind:
    """§4.1.1, §4.1.3, §4.1.5: bind_transmitter, bind_receiver, bind_transceiver."""

    sequence: int
    mode: BindMode = BindMode.TRANSCEIVER
    system_id: str
    password: str = ""
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""
    status: int = 0

    @property
    def command_id(self) -> int:
        return int(self.mode)


@dataclass(frozen=True, slots=True, kw_only=True)
class BindResp:
    """§4.1.2, §4.1.4, §4.1.6: system_id and TLV sc_interface_version; body may be empty on error."""

    sequence: int
    mode: BindMode = BindMode.TRANSCEIVER
    status: int = 0
    system_id: str = ""
    tlvs: tuple[Tlv, ...] = ()

    @property
    def command_id(self) -> int:
        return int(self.mode) | RESPONSE_BIT


@dataclass(frozen=True, slots=True, kw_only=True)
class ShortMessage:
    """The common body of submit_sm (§4.4.1) and deliver_sm (§4.6.1)."""

    command_id: ClassVar[int] = 0
    sequence: int
    status: int = 0
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: tuple[Tlv, ...] = field(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitSm(ShortMessage):
    command_id: ClassVar[int] = CommandId.SUBMIT_SM


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverSm(ShortMessage):
    command_id: ClassVar[int] = CommandId.DELIVER_SM


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitSmResp:
    """§4.4.2: message_id; the body is empty when command_status is not 0."""

    command_id: ClassVar[int] = CommandId.SUBMIT_SM_RESP
    sequence: int
    status: int = 0
    message_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverSmResp:
    """§4.6.2: message_id, unused and set to NULL."""

    command_id: ClassVar[int] = CommandId.DELIVER_SM_RESP
    sequence: int
    status: int = 0
    message_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Empty:
    """PDUs with a header only: enquire_link(_resp) §4.11, unbind(_resp) §4.2, generic_nack §4.3."""

    command_id: ClassVar[int] = 0
    sequence: int
    status: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLink(Empty):
    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK


@dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLinkResp(Empty):
    command_id: ClassVar[int] = CommandId.ENQUIRE_LINK_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class Unbind(Empty):
    command_id: ClassVar[int] = CommandId.UNBIND


@dataclass(frozen=True, slots=True, kw_only=True)
class UnbindResp(Empty):
    command_id: ClassVar[int] = CommandId.UNBIND_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class GenericNack(Empty):
    command_id: ClassVar[int] = CommandId.GENERIC_NACK


Pdu = Bind | BindResp | SubmitSm | DeliverSm | SubmitSmResp | DeliverSmResp | Empty

_SM = TypeVar("_SM", SubmitSm, DeliverSm)
_EMPTY: dict[int, type[Empty]] = {
    CommandId.ENQUIRE_LINK: EnquireLink,
    CommandId.ENQUIRE_LINK_RESP: EnquireLinkResp,
    CommandId.UNBIND: Unbind,
    CommandId.UNBIND_RESP: UnbindResp,
    CommandId.GENERIC_NACK: GenericNack,
}


_BIND_RESPONSES = frozenset(int(m) | RESPONSE_BIT for m in BindMode)


def is_response(command_id: int) -> bool:
    return bool(command_id & RESPONSE_BIT)


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
