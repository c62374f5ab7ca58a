"""Sans-I/O KISS framing and AX.25 UI frames of the KISS/APRS radio channel (APRS messages are in
`aprs.py`). Bytes in, frames out; nothing here touches a port, a socket or a clock.

References cited below:

- KISS: "The KISS TNC: A simple Host-to-TNC communications protocol", M. Chepponis K3MC and
  P. Karn KA9Q, ARRL 6th Computer Networking Conference, 1987. §2 "Asynchronous frame format",
  §3 "Control of the KISS TNC" (the type byte and its commands; multi-port TNCs put the port
  in the high nibble).
- AX.25: "AX.25 Amateur Packet-Radio Link-Layer Protocol" 2.0 (1984) §2.2.13 address-field
  encoding (§3.12 in 2.2, 1998), §2.2.4 PID field (2.2 §3.4), §2.3.4.3 unnumbered frames, UI
  (2.2 §4.3.3.6), §2.4.1.2 command/response bits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from adapters.errors import ProtocolError

__all__ = [
    "FEND",
    "FESC",
    "MAX_DIGIPEATERS",
    "MAX_FRAME",
    "PID_NO_LAYER3",
    "TFEND",
    "TFESC",
    "UI_CONTROL",
    "AX25Error",
    "Address",
    "Command",
    "FrameError",
    "KissDecoder",
    "KissError",
    "KissFrame",
    "UIFrame",
    "UnsupportedFrame",
    "decode_kiss",
    "encode_kiss",
    "escape",
    "unescape",
]

# ---- errors ------------------------------------------------------------------------------------


class FrameError(ProtocolError):
    """Bytes that are not a valid frame or packet of the KISS radio channel (KISS, AX.25 or
    APRS). `reason` is the problem, `data` the offending input (may be cut)."""

    codec = "kiss_radio"
    data: bytes

    def __init__(self, reason: str, data: bytes = b"") -> None:
        super().__init__(reason, data=bytes(data))

    @property
    def reason(self) -> str:
        return self.problem


class KissError(FrameError):
    """A KISS framing violation: bad escape, empty or oversized frame, bad type byte."""

    codec = "kiss"


class AX25Error(FrameError):
    """A malformed AX.25 frame: truncated, bad callsign, unterminated address field."""

    codec = "ax25"


class UnsupportedFrame(FrameError):
    """A valid AX.25 frame that is not a UI frame with no layer 3 (connected-mode, NET/ROM...)."""

    codec = "ax25"

    def __init__(self, reason: str, data: bytes = b"", *, control: int = 0, pid: int | None = None) -> None:
        super().__init__(reason, data)
        self.control = control
        self.pid = pid


# ---- KISS --------------------------------------------------------------------------------------

# KISS §2: the four special characters.
FEND = 0xC0
FESC = 0xDB
TFEND = 0xDC
TFESC = 0xDD
# Longest frame (unescaped, type byte included) the decoder buffers. An AX.25 UI frame is at
# most 10 addresses of 7 octets, control, PID and a 256-octet info field (AX.25 2.0 §2.2.7, N1).
MAX_FRAME = 1024


class Command(IntEnum):
    """KISS §3: the low nibble of the type byte. RETURN is the whole byte 0xFF."""

    DATA = 0x00
    TX_DELAY = 0x01
    PERSISTENCE = 0x02
    SLOT_TIME = 0x03
    TX_TAIL = 0x04
    FULL_DUPLEX = 0x05
    SET_HARDWARE = 0x06
    RETURN = 0xFF


@dataclass(frozen=True, slots=True)
class KissFrame:
    port: int
    command: int
    data: bytes


def escape(data: bytes) -> bytes:
    """KISS §2: FESC first (so the FESC of a transposed FEND is not escaped twice), then FEND."""
    return data.replace(bytes([FESC]), bytes([FESC, TFESC])).replace(bytes([FEND]), bytes([FESC, TFEND]))


def unescape(data: bytes) -> bytes:
    """Undo `escape`. A FEND inside, a FESC not followed by TFEND/TFESC, or a trailing FESC is an
    error: KISS §2 lets a TNC carry on, but on the host side it means the serial line corrupted
    the frame (the TNC already checked the over-the-air FCS), so the whole frame is dropped."""
    out = bytearray()
    it = iter(range(len(data)))
    for i in it:
        b = data[i]
        if b == FEND:
            raise KissError("FEND inside a frame", data)
        if b != FESC:
            out.append(b)
            continue
        nxt = next(it, None)
        if nxt is None:
            raise KissError("frame ends in the middle of an escape", data)
        code = data[nxt]
        if code == TFEND:
            out.append(FEND)
        elif code == TFESC:
            out.append(FESC)
        else:
            raise KissError(f"FESC followed by 0x{code:02X}, not TFEND or TFESC", data)
    return bytes(out)


def encode_kiss(data: bytes, *, port: int = 0, command: int = Command.DATA) -> bytes:
    """One KISS frame: FEND, type byte (port << 4 | command), escaped data, FEND (KISS §2, §3).

    A leading FEND as well as the trailing one flushes any line noise the TNC has buffered."""
    if not 0 <= port <= 15:
        raise KissError(f"KISS port must be 0..15, got {port}")
    if command == Command.RETURN:
        type_byte = 0xFF
    elif 0 <= command <= 15:
        type_byte = (port << 4) | command
    else:
        raise KissError(f"KISS command must be 0..15 or 0xFF, got {command}")
    return bytes([FEND, type_byte]) + escape(data) + bytes([FEND])


def decode_kiss(frame: bytes) -> KissFrame:
    """The content of one frame, the bytes between two FENDs (FENDs at either end are allowed)."""
    body = frame[1:] if frame[:1] == bytes([FEND]) else frame
    body = body[:-1] if body[-1:] == bytes([FEND]) else body
    raw = unescape(body)
    if not raw:
        raise KissError("empty frame", frame)
    if len(raw) > MAX_FRAME:
        raise KissError(f"frame longer than {MAX_FRAME} octets", frame)
    type_byte = raw[0]
    if type_byte == 0xFF:
        return KissFrame(port=0, command=Command.RETURN, data=raw[1:])
    return KissFrame(port=type_byte >> 4, command=type_byte & 0x0F, data=raw[1:])


class KissDecoder:
    """Streaming KISS decoder: feed it chunks of any size; it returns each complete frame, or a
    `KissError` in its place for a frame that was corrupted. Bytes before the first FEND (line
    noise, a TNC's sign-on banner) are dropped and counted; back-to-back FENDs are not frames
    (KISS §2). An oversized frame is dropped up to the next FEND, so the stream always resyncs."""

    def __init__(self, *, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._in_frame = False
        self._overflow = False
        self.discarded = 0  # octets outside any frame

    def feed(self, data: bytes) -> list[KissFrame | KissError]:
        out: list[KissFrame | KissError] = []
        start = 0
        while start < len(data):
            end = data.find(FEND, start)
            chunk = data[start:] if end < 0 else data[start:end]
            if self._in_frame:
                self._take(chunk)
            else:
                self.discarded += len(chunk)
            if end < 0:
                break
            self._close(out)
            start = end + 1
        return out

    def _take(self, chunk: bytes) -> None:
        if self._overflow:
            return
        self._buf += chunk
        # An escaped frame may be up to twice the length of its content (plus the type byte).
        if len(self._buf) > 2 * self.max_frame + 1:
            self._overflow = True
            self._buf.clear()

    def _close(self, out: list[KissFrame | KissError]) -> None:
        """A FEND: it ends the frame being assembled (if any) and opens the next one."""
        if self._in_frame:
            if self._overflow:
                out.append(KissError(f"frame longer than {self.max_frame} octets"))
            elif self._buf:
                try:
                    out.append(decode_kiss(bytes(self._buf)))
                except KissError as exc:
                    out.append(exc)
        self._buf.clear()
        self._overflow = False
        self._in_frame = True


# ---- AX.25 -------------------------------------------------------------------------------------

# AX.25 2.0 §2.3.4.3 / 2.2 §4.3.3.6: UI frame control field, P/F bit 0 (0x13 with P/F set).
UI_CONTROL = 0x03
# AX.25 2.0 §2.2.4 / 2.2 §3.4: PID 0xF0, no layer 3 protocol (APRS 1.0.1 chapter 3).
PID_NO_LAYER3 = 0xF0
MAX_DIGIPEATERS = 8
_CALL = re.compile(r"[A-Z0-9]{1,6}")
_ADDRESS = re.compile(r"(?P<call>[A-Z0-9]{1,6})(?:-(?P<ssid>[0-9]{1,2}))?(?P<h>\*)?")


@dataclass(frozen=True, slots=True)
class Address:
    """One AX.25 address: callsign (1-6 upper-case letters and digits) and SSID 0-15.

    `flag` is the C bit of a destination or source (command/response, AX.25 2.0 §2.4.1.2) and
    the H ("has been repeated") bit of a digipeater (§2.2.13.3)."""

    call: str
    ssid: int = 0
    flag: bool = False

    def __post_init__(self) -> None:
        if not _CALL.fullmatch(self.call):
            raise AX25Error(f"callsign must be 1-6 upper-case letters or digits, got {self.call!r}")
        if not 0 <= self.ssid <= 15:
            raise AX25Error(f"SSID must be 0..15, got {self.ssid}")

    @classmethod
    def parse(cls, text: str) -> Address:
        """ "N0CALL", "N0CALL-7", "WIDE1-1", or a used digipeater "DIGI*" (case-insensitive)."""
        m = _ADDRESS.fullmatch(text.strip().upper())
        if m is None:
            raise AX25Error(f"not an AX.25 address: {text!r}")
        return cls(m["call"], int(m["ssid"] or 0), flag=m["h"] is not None)

    def __str__(self) -> str:
        return self.call if self.ssid == 0 else f"{self.call}-{self.ssid}"

    def encode(self, *, last: bool) -> bytes:
        """AX.25 2.0 §2.2.13: six callsign octets shifted left one bit and space-padded, then the
        SSID octet `C R R S S S S E` with both reserved bits set and E marking the last address."""
        octets = bytes(c << 1 for c in self.call.ljust(6).encode("ascii"))
        ssid = 0x60 | (self.ssid << 1) | (0x80 if self.flag else 0) | (0x01 if last else 0)
        return octets + bytes([ssid])

    @classmethod
    def decode(cls, data: bytes) -> tuple[Address, bool]:
        """One 7-octet address; returns it and whether it is the last one (the E bit)."""
        if len(data) != 7:
            raise AX25Error("an address is 7 octets", data)
        if any(b & 0x01 for b in data[:6]):
            raise AX25Error("extension bit set inside a callsign", data)
        text = bytes(b >> 1 for b in data[:6]).decode("ascii")
        call = text.rstrip(" ")
        if not _CALL.fullmatch(call):
            raise AX25Error(f"bad callsign {text!r}", data)
        ssid_octet = data[6]
        return cls(call, (ssid_octet >> 1) & 0x0F, flag=bool(ssid_octet & 0x80)), bool(ssid_octet & 0x01)


@dataclass(frozen=True, slots=True)
class UIFrame:
    """An AX.25 UI frame as a KISS TNC carries it (no flags, no FCS: the TNC adds and checks them)."""

    destination: Address
    source: Address
    path: tuple[Address, ...] = ()
    info: bytes = b""
    pid: int = PID_NO_LAYER3

    def __post_init__(self) -> None:
        if len(self.path) > MAX_DIGIPEATERS:
            raise AX25Error(f"at most {MAX_DIGIPEATERS} digipeaters, got {len(self.path)}")

    @classmethod
    def command(
        cls, destination: Address, source: Address, path: tuple[Address, ...], info: bytes
    ) -> UIFrame:
        """A UI command frame as AX.25 2.x sends one: destination C=1, source C=0 (§2.4.1.2)."""
        return cls(
            Address(destination.call, destination.ssid, flag=True),
            Address(source.call, source.ssid, flag=False),
            path,
            info,
        )

    def encode(self) -> bytes:
        """The addresses' C and H bits are written as they are, so a decoded frame (even one
        from an AX.25 1.x station with both C bits 0) encodes back to the same octets."""
        addresses = [self.destination, self.source, *self.path]
        head = b"".join(a.encode(last=i == len(addresses) - 1) for i, a in enumerate(addresses))
        return head + bytes([UI_CONTROL, self.pid]) + self.info

    @classmethod
    def decode(cls, data: bytes) -> UIFrame:
        """Parse a frame; raises AX25Error when malformed, UnsupportedFrame when not UI/no-L3."""
        addresses: list[Address] = []
        pos = 0
        while True:
            if len(addresses) == 2 + MAX_DIGIPEATERS:
                raise AX25Error("address field not terminated after 10 addresses", data)
            if pos + 7 > len(data):
                raise AX25Error("truncated in the address field", data)
            address, last = Address.decode(data[pos : pos + 7])
            addresses.append(address)
            pos += 7
            if last:
                break
        if len(addresses) < 2:
            raise AX25Error("address field ends after the destination", data)
        if pos >= len(data):
            raise AX25Error("no control field", data)
        control = data[pos]
        if control & ~0x10 != UI_CONTROL:  # the P/F bit (0x10) may be set
            raise UnsupportedFrame(f"control 0x{control:02X} is not UI", data, control=control)
        if pos + 1 >= len(data):
            raise AX25Error("UI frame without a PID", data)
        pid = data[pos + 1]
        if pid != PID_NO_LAYER3:
            raise UnsupportedFrame(f"PID 0x{pid:02X} is not 'no layer 3'", data, control=control, pid=pid)
        return cls(addresses[0], addresses[1], tuple(addresses[2:]), data[pos + 2 :], pid)

    def tnc2(self) -> str:
        """TNC2 monitor format, "SRC>DST,PATH:info", as APRS-IS and aprslib use. A repeated
        digipeater shows "*" (only the last one, as TNC2 does)."""
        used = max((i for i, a in enumerate(self.path) if a.flag), default=-1)
        path = [str(a) + ("*" if i == used else "") for i, a in enumerate(self.path)]
        head = ",".join([f"{self.source}>{self.destination}", *path])
        return f"{head}:{self.info.decode('utf-8', errors='replace')}"
