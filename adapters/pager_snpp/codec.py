"""Sans-I/O SNPP (RFC 1861, "SNPP Version 3"): command lines and replies.

RFC 1861 §4.1: commands are a 4-letter keyword (the first four characters are significant) and
arguments, ended by CRLF. Replies are a 3-digit code, a space, text and CRLF; the first digit is
the class (§4.2: 2xx success, 3xx begin input, 4xx failed and the connection is closed, 5xx
failed and the session goes on; level 3 adds 7xx, 8xx and 9xx). DATA input ends with a line
holding only "." and lines starting with "." are doubled (§4.4.1, as in SMTP).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import IntEnum

from adapters.errors import ProtocolError

PORT = 444  # RFC 1861 §3
MAX_LINE = 4096


class SnppProtocolError(ProtocolError):
    """The server sent something that is not an SNPP reply (RFC 1861 §4.2)."""

    codec = "snpp"


class ReplyClass(IntEnum):
    """RFC 1861 §4.2 (and §5 for level 3)."""

    SUCCESS = 2
    INPUT = 3
    FATAL = 4  # failed, and the server closes the connection
    ERROR = 5  # failed, the session continues
    TWO_WAY_ERROR = 7
    TWO_WAY_SUCCESS = 8
    TWO_WAY_QUEUED = 9


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    text: str

    @property
    def klass(self) -> ReplyClass | None:
        try:
            return ReplyClass(self.code // 100)
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        return self.klass in (ReplyClass.SUCCESS, ReplyClass.TWO_WAY_SUCCESS, ReplyClass.TWO_WAY_QUEUED)

    @property
    def closes(self) -> bool:
        """4xx: the server has given up on this connection (§4.2, e.g. 421 Timeout, §4.8)."""
        return self.klass is ReplyClass.FATAL

    def __str__(self) -> str:
        return f"{self.code} {self.text}".rstrip()


_REPLY = re.compile(rb"^(\d{3})([ -]?)(.*)$", re.S)


class ReplyParser:
    """Bytes in, replies out. A line "ddd-text" continues a reply whose last line is "ddd text"
    (some servers answer HELP that way); a bare LF ends a line as well as CRLF."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._continued: list[str] = []

    def feed(self, data: bytes) -> list[Reply]:
        self._buf += data
        out: list[Reply] = []
        while True:
            i = self._buf.find(b"\n")
            if i < 0:
                if len(self._buf) > MAX_LINE:
                    raise SnppProtocolError("reply line too long", data=bytes(self._buf[:64]))
                return out
            line = bytes(self._buf[:i]).rstrip(b"\r")
            del self._buf[: i + 1]
            if not line:
                continue
            m = _REPLY.match(line)
            if m is None:
                raise SnppProtocolError("not an SNPP reply", data=line)
            text = m.group(3).decode("utf-8", "replace").strip()
            if m.group(2) == b"-":
                self._continued.append(text)
                continue
            if self._continued:
                text = "\n".join([*self._continued, text])
                self._continued = []
            out.append(Reply(int(m.group(1)), text))


# ---- commands ----------------------------------------------------------------------------------
def printable(text: str) -> str:
    """ASCII for pagers: accents dropped (é → e), anything else outside ASCII → '?', control
    characters other than line breaks → space."""
    out = []
    for ch in text:
        if ch in "\r\n":
            out.append(ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(" ")
        elif ord(ch) < 0x80:
            out.append(ch)
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            out.append(base if base and base.isascii() else "?")
    return "".join(out)


def command(keyword: str, *args: str) -> bytes:
    """`KEYW arg arg<CRLF>`; arguments never contain a line break (§4.1)."""
    if not re.fullmatch(r"[A-Z0-9]{4}", keyword):
        raise ValueError(f"SNPP keywords are 4 characters: {keyword!r}")
    for a in args:
        if "\r" in a or "\n" in a:
            raise ValueError("an SNPP argument cannot contain a line break")
    return " ".join((keyword, *args)).encode("ascii", "replace") + b"\r\n"


def page(pager_id: str, password: str = "") -> bytes:
    """§4.3.1 PAGEr <PagerID> [Password/PIN]."""
    if not re.fullmatch(r"[\x21-\x7e]{1,64}", pager_id):
        raise ValueError(f"invalid pager ID {pager_id!r}")
    return command("PAGE", pager_id, *((password,) if password else ()))


def mess(text: str) -> bytes:
    """§4.3.2 MESSage <one line of text>."""
    return command("MESS", printable(text))


def level(n: int) -> bytes:
    """§4.4.3 LEVEl <ServiceLevel>: 0 (priority) to 11; 1 is normal."""
    if not 0 <= n <= 11:
        raise ValueError("service levels are 0 to 11")
    return command("LEVE", str(n))


def data_body(text: str) -> bytes:
    """§4.4.1 DATA input after 354: the text's lines, dot-stuffed, then a line with only '.'."""
    lines = printable(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    stuffed = [("." + ln if ln.startswith(".") else ln) for ln in lines]
    return "".join(f"{ln}\r\n" for ln in stuffed).encode("ascii", "replace") + b".\r\n"


def needs_data(text: str) -> bool:
    """MESS carries one line; a text with line breaks goes with DATA."""
    return "\n" in text or "\r" in text


DATA = command("DATA")
SEND = command("SEND")
RESET = command("RESE")
QUIT = command("QUIT")
