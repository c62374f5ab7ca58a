"""Sans-I/O TAP 1.8 blocks: the wire format between a remote entry device and a paging central.

Section numbers are those of the Telocator Alphanumeric Protocol, version 1.8 (4 Feb 1997):

- §2 operating environment: 7-bit ASCII (10-bit characters, 7E1 on a serial line);
- §3 the block format: `<STX>field<CR>field<CR>...<ETX|ETB|US>ccc<CR>`, at most 256 characters
  per block, ETB/US to continue a transaction in the next block;
- §4 implementation notes: SUB transparency for control characters inside fields (since 1.6);
- §5-§6 the checksum;
- Appendix A: message-sequence response codes `ddd text<CR>` (mandatory since 1.6).

The session state machine that sends these blocks is in `session.py`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from adapters.errors import ProtocolError

CR, LF = 0x0D, 0x0A
STX, ETX, EOT, ACK, NAK = 0x02, 0x03, 0x04, 0x06, 0x15
ETB, SUB, ESC, RS, US = 0x17, 0x1A, 0x1B, 0x1E, 0x1F
TERMINATORS = (ETX, ETB, US)

MAX_BLOCK = 256  # §3: a block never exceeds 256 characters, STX through the final CR
MAX_DATA = MAX_BLOCK - 6  # STX, terminator, 3 checksum characters, CR: 250 for the fields
MAX_LINE = 512  # a response line longer than this is noise; cut it so memory stays bounded

GO_AHEAD = b"\x1b[p"
DISCONNECT = b"\x1b\x04"
LOGOFF = bytes((EOT, CR))


class TapFormatError(ProtocolError):
    """A TAP block that is not well formed; `code` is the Appendix A code a central would answer."""

    codec = "tap"

    def __init__(self, code: int, reason: str, data: bytes = b"") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}", data=data)


# ---- §5, §6: checksum --------------------------------------------------------------------------
def checksum(block: bytes) -> bytes:
    """The 3 checksum characters of `block` (STX through the terminator, inclusive).

    §6.1: sum the 7-bit values. §6.2: the low 12 bits as three nibbles, most significant first,
    each plus 0x30. The spec's example `<STX>123<CR>ABC<CR><ETX>` sums to 379 = 0x17B: `17;`.
    """
    total = sum(b & 0x7F for b in block) & 0xFFF
    return bytes((0x30 + (total >> 8), 0x30 + ((total >> 4) & 0xF), 0x30 + (total & 0xF)))


# ---- §2, §4: field contents --------------------------------------------------------------------
def to_seven_bit(text: str) -> str:
    """§2: TAP carries 7-bit ASCII. Accents are dropped (é → e) rather than masked to 7 bits,
    which would turn é (0xE9) into i; anything else outside ASCII becomes '?'."""
    out = []
    for ch in text:
        if ord(ch) < 0x80:
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(base if base and all(ord(c) < 0x80 for c in base) else "?")
    return "".join(out)


def escape_field(text: str, *, transparency: bool = True) -> list[bytes]:
    """A field's characters as wire tokens (one or two bytes each; a token is never split across
    blocks). §4 (TAP 1.6+): a control character c < 0x20 is sent as SUB, c + 0x40. Without
    transparency (pre-1.6 centrals) control characters become spaces."""
    tokens: list[bytes] = []
    for ch in to_seven_bit(text):
        c = ord(ch)
        if c < 0x20:
            tokens.append(bytes((SUB, c + 0x40)) if transparency else b" ")
        else:
            tokens.append(bytes((c,)))
    return tokens


def unescape_field(data: bytes) -> str:
    """The inverse of `escape_field`: SUB x → chr(x - 0x40)."""
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == SUB:
            nxt = next(it, None)
            if nxt is None:
                raise TapFormatError(515, "SUB at the end of a field")
            out.append((nxt - 0x40) & 0x7F)
        else:
            out.append(b)
    if not out.isascii():  # TAP fields are 7-bit ASCII (TAP 1.8 §3, §4.1)
        raise TapFormatError(515, "a field byte is not 7-bit ASCII", bytes(data))
    return out.decode("ascii")


# ---- §3: transaction blocks --------------------------------------------------------------------
def frame_block(data: bytes, terminator: int) -> bytes:
    """`<STX>data<terminator>ccc<CR>`."""
    if terminator not in TERMINATORS:
        raise ValueError("terminator must be ETX, ETB or US")
    if len(data) > MAX_DATA:
        raise ValueError(f"block data is {len(data)} characters; at most {MAX_DATA} fit")
    body = bytes((STX,)) + data + bytes((terminator,))
    return body + checksum(body) + bytes((CR,))


def encode_transaction(fields: Sequence[str], *, transparency: bool = True) -> list[bytes]:
    """One transaction (field 1: pager ID, field 2: message) as framed blocks.

    §3: every field ends with CR. A block holds at most 250 characters of fields; when a
    transaction needs more, a block that ends on a field boundary is terminated with ETB, one that
    ends inside a field with US, and the last block with ETX.
    """
    if not fields:
        raise ValueError("a transaction has at least one field (the pager ID)")
    tokens: list[bytes] = []
    for f in fields:
        tokens.extend(escape_field(f, transparency=transparency))
        tokens.append(bytes((CR,)))
    blocks: list[bytes] = []
    data = bytearray()
    for tok in tokens:
        if len(data) + len(tok) > MAX_DATA:
            blocks.append(frame_block(bytes(data), ETB if data.endswith(b"\r") else US))
            data.clear()
        data += tok
    blocks.append(frame_block(bytes(data), ETX))
    return blocks


@dataclass(frozen=True, slots=True)
class Block:
    data: bytes  # between STX and the terminator
    terminator: int

    @property
    def last(self) -> bool:
        return self.terminator == ETX


def decode_block(raw: bytes) -> Block:
    """Check one received block (as a central does): format (515) and checksum (514)."""
    if len(raw) > MAX_BLOCK:
        raise TapFormatError(515, f"block of {len(raw)} characters exceeds {MAX_BLOCK}")
    if len(raw) < 6 or raw[0] != STX or raw[-1] != CR:
        raise TapFormatError(515, "a block is <STX>...<ETX|ETB|US>ccc<CR>")
    terminator = raw[-5]
    if terminator not in TERMINATORS:
        raise TapFormatError(515, "no ETX, ETB or US before the checksum")
    body = raw[:-4]
    if any(b in (STX, *TERMINATORS) for b in body[1:-1]):
        raise TapFormatError(515, "control character inside the block data")
    if checksum(body) != raw[-4:-1]:
        raise TapFormatError(514, "checksum error")
    return Block(data=bytes(body[1:-1]), terminator=terminator)


def decode_transaction(blocks: Sequence[Block]) -> list[str]:
    """Reassemble the fields of one transaction from its blocks (ETB and US both continue)."""
    if not blocks or not blocks[-1].last or any(b.last for b in blocks[:-1]):
        raise TapFormatError(515, "a transaction ends with exactly one ETX block")
    data = b"".join(b.data for b in blocks)
    if not data.endswith(b"\r"):
        raise TapFormatError(515, "the last field does not end with CR")
    return [unescape_field(f) for f in data[:-1].split(b"\r")]


# ---- Appendix A: message-sequence responses ----------------------------------------------------
_SEQUENCE = re.compile(rb"^(\d{3})(?!\d)[ :-]?(.*)$", re.S)
_FIRST_NUMBER = re.compile(r"\d+")
# Appendix A (rev 1.8 changes 3 and 4): these codes carry the terminal's maximum length.
LENGTH_CODES = ("212", "214", "517")
# RS with these codes means "not now", not "never".
TEMPORARY_REJECTIONS = ("512", "516")


@dataclass(frozen=True, slots=True)
class Response:
    """One message sequence, `ddd text<CR>`. The text is informational (rev 1.8 change 1)
    except for 212/214/517, which carry the maximum message length."""

    code: str
    text: str

    @property
    def max_length(self) -> int | None:
        if self.code not in LENGTH_CODES:
            return None
        m = _FIRST_NUMBER.search(self.text)
        return int(m.group()) if m else None

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


def parse_response(line: bytes) -> Response | None:
    """A message-sequence line, or None when the line is not one (banner text, line noise)."""
    m = _SEQUENCE.match(line)
    if m is None:
        return None
    return Response(m.group(1).decode("ascii"), m.group(2).decode("ascii", "replace").strip())


class Token(Enum):
    ID = "ID="
    ACK = "ACK"
    NAK = "NAK"
    RS = "RS"
    DISCONNECT = "ESC EOT"
    GO_AHEAD = "ESC [p"


class Scanner:
    """Splits what the central sends into control tokens and text lines.

    Every byte is masked to 7 bits (§2; a parity bit read as data on an 8N1 port). ACK, NAK, RS,
    ESC EOT and ESC [p count as soon as they arrive, whether or not a CR follows (HylaFAX and
    sendpage accept an early go-ahead too); text before them on the same line is a line of its
    own. LF and NUL are ignored (Zetron ends its goodbye with LF CR). `ID=` is recognised inside
    a line, with or without CR and after any prompt text, while `expect_id` is set.
    """

    def __init__(self) -> None:
        self.expect_id = False
        self._line = bytearray()
        self._esc = 0  # 1: after ESC; 2: after ESC [

    def feed(self, data: bytes) -> list[Token | bytes]:
        out: list[Token | bytes] = []
        for raw in data:
            b = raw & 0x7F
            if self._esc:
                self._escape(b, out)
            elif b == ESC:
                self._esc = 1
            elif b in (ACK, NAK, RS):
                self._flush(out)
                out.append({ACK: Token.ACK, NAK: Token.NAK, RS: Token.RS}[b])
            elif b == CR:
                self._flush(out)
            elif b not in (LF, 0):
                self._line.append(b)
                if self.expect_id and self._line.endswith(b"ID="):
                    self._line.clear()
                    out.append(Token.ID)
                elif len(self._line) >= MAX_LINE:
                    self._flush(out)
        return out

    def _escape(self, b: int, out: list[Token | bytes]) -> None:
        step, self._esc = self._esc, 0
        if step == 1 and b == EOT:
            self._flush(out)
            out.append(Token.DISCONNECT)
        elif step == 1 and b == ord("["):
            self._esc = 2
        elif step == 2 and b == ord("p"):
            self._flush(out)
            out.append(Token.GO_AHEAD)
        # any other escape sequence is line noise and is dropped

    def _flush(self, out: list[Token | bytes]) -> None:
        if self._line:
            out.append(bytes(self._line))
            self._line.clear()
