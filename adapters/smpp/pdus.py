"""SMPP 3.4 PDUs as frozen dataclasses: the command bodies of §4 and TLVs (§5.3)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar

from adapters.smpp.protocol import (
    INTERFACE_VERSION,
    RESPONSE_BIT,
    BindMode,
    CommandId,
)

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")


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
