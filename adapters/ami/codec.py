"""Sans-I/O Asterisk Manager Interface wire format: bytes in, messages out; actions to bytes.

The AMI (docs.asterisk.org, "The Asterisk Manager TCP/IP API") is line based:
- on connect the server sends one banner line, `Asterisk Call Manager/X.Y.Z`;
- then every packet is `Key: Value` lines ending in CRLF, closed by an empty line;
- a client packet starts with `Action:`; the server answers `Response:` (Success, Error, Goodbye,
  Follows) with the client's `ActionID`, and volunteers `Event:` packets. Events that belong to a
  list action (`CoreShowChannels`) carry the action's ActionID; the list ends with an event
  `…Complete` that has `EventList: Complete`.
Keys repeat in some packets (`ChanVariable`, `Variable`), so a message keeps its fields in order.
No asyncio here: `Parser.feed()` takes bytes and returns whole messages; a protocol violation
raises `ProtocolError` for the caller to fail the connection cleanly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from adapters import errors

BANNER_PREFIX = "Asterisk Call Manager/"
MAX_MESSAGE = 256 * 1024  # one packet; Asterisk's own are a few KiB


class ProtocolError(errors.ProtocolError):
    """AMI text that breaks the wire format: from the peer (drop the connection) or a field we
    were asked to send that would inject lines. Still a `ValueError`."""

    codec = "ami"


@dataclass(frozen=True, slots=True)
class Banner:
    text: str

    @property
    def version(self) -> str | None:
        return self.text[len(BANNER_PREFIX) :] if self.text.startswith(BANNER_PREFIX) else None


@dataclass(frozen=True, slots=True)
class Message:
    fields: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str | None = None) -> str | None:
        """First value of `key` (keys are case-insensitive on the wire)."""
        k = key.lower()
        for name, value in self.fields:
            if name.lower() == k:
                return value
        return default

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get_all(self, key: str) -> list[str]:
        k = key.lower()
        return [v for name, v in self.fields if name.lower() == k]

    @property
    def kind(self) -> str:
        """ "event", "response", "action" or "" (the first field decides)."""
        if not self.fields:
            return ""
        first = self.fields[0][0].lower()
        return first if first in ("event", "response", "action") else ""

    @property
    def name(self) -> str:
        """The event name, response status or action name."""
        return self.fields[0][1] if self.kind else ""

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def encode(self) -> bytes:
        return encode(self.fields)


def encode(fields: Iterable[tuple[str, str]]) -> bytes:
    """`Key: Value\\r\\n` lines and the empty line. CR or LF inside a field would inject lines."""
    out: list[str] = []
    for key, value in fields:
        if not key or any(ch in key for ch in ":\r\n") or key != key.strip():
            raise ProtocolError(f"invalid AMI key {key!r}")
        if "\r" in value or "\n" in value:
            raise ProtocolError(f"AMI value for {key} contains a line break")
        out.append(f"{key}: {value}\r\n")
    if not out:
        raise ProtocolError("an AMI packet needs at least one field")
    return ("".join(out) + "\r\n").encode("utf-8")


def action(name: str, action_id: str, **fields: str) -> bytes:
    """An action packet: `Action`, `ActionID`, then the fields in the order given."""
    return encode([("Action", name), ("ActionID", action_id), *fields.items()])


def message(*fields: tuple[str, str]) -> Message:
    return Message(tuple(fields))


class Parser:
    """Feed bytes, get `Banner` (first line, when `banner=True`) and `Message`s.

    Tolerates bare LF line ends. Blank lines between packets are skipped. A line without a colon
    inside a packet (old `Response: Follows` command output) is kept under the key `Output`.
    """

    def __init__(self, *, banner: bool = True, max_message: int = MAX_MESSAGE) -> None:
        self._want_banner = banner
        self._max = max_message
        self._buffer = bytearray()
        self._fields: list[tuple[str, str]] = []
        self._size = 0

    def feed(self, data: bytes) -> list[Banner | Message]:
        self._buffer += data
        out: list[Banner | Message] = []
        for line in self._lines():
            if self._want_banner:
                self._want_banner = False
                out.append(Banner(line))
                continue
            if line == "":
                if self._fields:
                    out.append(Message(tuple(self._fields)))
                    self._fields, self._size = [], 0
                continue
            key, colon, value = line.partition(":")
            if colon and key and key == key.strip() and " " not in key:
                self._fields.append((key, value.lstrip(" ")))
            else:
                self._fields.append(("Output", line))
            self._size += len(line)
            if self._size > self._max:
                raise ProtocolError(f"packet longer than {self._max} bytes")
        if len(self._buffer) > self._max:
            raise ProtocolError(f"line longer than {self._max} bytes", data=bytes(self._buffer))
        return out

    def _lines(self) -> Iterator[str]:
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                return
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                yield raw.decode("latin-1")  # Asterisk passes caller names through unchanged

    @property
    def pending(self) -> bool:
        """True when a packet has started but not ended (the peer went away mid-packet)."""
        return bool(self._fields or self._buffer)
