"""SMPP 3.4 numbers: the header layout (§3.2), command ids (§5.1.2.1), command status (§5.1.3),
optional parameter tags (§5.3.2) and the field values the channel uses (§5.2).

Section numbers refer to SMPP v3.4 Issue 1.2 (12 Oct 1999).
"""

from __future__ import annotations

import struct
from enum import IntEnum

# §3.2: command_length, command_id, command_status, sequence_number; 4-octet big-endian integers.
HEADER = struct.Struct(">IIII")
HEADER_LEN = HEADER.size
MAX_SEQUENCE = 0x7FFFFFFF  # §3.2: sequence_number 0x00000001 to 0x7FFFFFFF
RESPONSE_BIT = 0x80000000  # §5.1.2.1: a response's command_id is its request's with bit 31 set
DEFAULT_MAX_PDU = 64 * 1024  # far above any PDU we use; message_payload is at most 64 KiB


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


def is_response(command_id: int) -> bool:
    """§5.1.2.1: a response's command_id is its request's with bit 31 set."""
    return bool(command_id & RESPONSE_BIT)
