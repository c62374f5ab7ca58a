"""The simulator's own SMPP 3.4 wire code: command ids (§5.1.2.1), command status (§5.1.3),
TLV tags (§5.3.2), and just enough encoding and parsing for an SMSC. Deliberately independent
of `adapters.smpp`."""

from __future__ import annotations

import struct

GENERIC_NACK = 0x80000000
BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER = 0x01, 0x02, 0x09
SUBMIT_SM, DELIVER_SM, UNBIND, ENQUIRE_LINK = 0x04, 0x05, 0x06, 0x15
RESP = 0x80000000
KNOWN_REQUESTS = {
    BIND_RECEIVER,
    BIND_TRANSMITTER,
    BIND_TRANSCEIVER,
    SUBMIT_SM,
    DELIVER_SM,
    UNBIND,
    ENQUIRE_LINK,
}
# §5.1.3 command_status
ROK, RINVCMDLEN, RINVCMDID, RINVBNDSTS, RALYBND = 0x00, 0x02, 0x03, 0x04, 0x05
RSYSERR, RINVDSTADR, RBINDFAIL, RINVPASWD, RINVSYSID = 0x08, 0x0B, 0x0D, 0x0E, 0x0F
RMSGQFUL, RSUBMITFAIL, RTHROTTLED, RX_T_APPN = 0x14, 0x45, 0x58, 0x64
# §5.3.2 TLV tags
T_RECEIPTED_ID, T_NETWORK_ERROR, T_PAYLOAD, T_STATE, T_SC_VERSION = 0x001E, 0x0423, 0x0424, 0x0427, 0x0210
FAULTS = {"reject": RINVDSTADR, "fail": RSUBMITFAIL, "syserr": RSYSERR, "queue_full": RMSGQFUL}
STATES = {"DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8}
MAX_PDU = 64 * 1024

Behaviour = str  # ok | reject | fail | syserr | queue_full | undeliverable | expire | silent


class Malformed(Exception):
    pass


def cstr(value: str) -> bytes:
    return value.encode("latin-1") + b"\0"


def pdu(command_id: int, status: int, seq: int, body: bytes = b"") -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body


class Body:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def cstr(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise Malformed("C-string without NUL")
        value = self.data[self.pos : end].decode("latin-1")
        self.pos = end + 1
        return value

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise Malformed("body too short")
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Malformed("body too short")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def tlvs(self) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        while self.pos < len(self.data):
            tag, length = struct.unpack(">HH", self.take(4))
            out[tag] = self.take(length)
        return out


def split_udh(data: bytes) -> tuple[tuple[int, int, int] | None, bytes]:
    """TS 23.040 §9.2.3.24: (reference, total, sequence) of a concatenated part, and the text."""
    if not data or 1 + data[0] > len(data):
        raise Malformed("bad UDH length")
    udh, rest = data[1 : 1 + data[0]], data[1 + data[0] :]
    i = 0
    while i + 2 <= len(udh):
        iei, n = udh[i], udh[i + 1]
        v = udh[i + 2 : i + 2 + n]
        if iei == 0 and n == 3 and len(v) == 3:
            return (v[0], v[1], v[2]), rest
        if iei == 8 and n == 4 and len(v) == 4:
            return (v[0] << 8 | v[1], v[2], v[3]), rest
        i += 2 + n
    return None, rest


def sm_body(
    *,
    source: str,
    dest: str,
    esm_class: int,
    coding: int,
    message: bytes,
    tlvs: bytes = b"",
    src_ton: int = 1,
) -> bytes:
    """§4.6.1 deliver_sm body."""
    return b"".join(
        (
            cstr(""),
            bytes((src_ton, 1)),
            cstr(source),
            bytes((1, 1)),
            cstr(dest),
            bytes((esm_class, 0, 0)),
            cstr(""),
            cstr(""),
            bytes((0, 0, coding, 0, len(message))),
            message,
            tlvs,
        )
    )


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">HH", tag, len(value)) + value
