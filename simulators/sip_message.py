"""SIP messages and G.711 for the phone simulator (simulators/sip_phone.py), written from the
specifications, not from the adapters: RFC 3261 §7 message parsing (compact header forms, folded
lines, one Via per value), the Request-URI's user, ITU-T G.711 µ-law to linear."""

from __future__ import annotations

import re
from dataclasses import dataclass

COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
}


@dataclass
class Message:
    start: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def get(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]

    @property
    def method(self) -> str:
        return self.start.split(" ", 1)[0]


def parse(data: bytes) -> Message:
    """RFC 3261 §7: start line, headers (compact forms expanded, folded lines joined), body."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad header line {line!r}")
        key = name.strip().lower()
        key = COMPACT.get(key, key)
        if key == "via":
            headers.extend((key, v.strip()) for v in value.split(","))
        else:
            headers.append((key, value.strip()))
    return Message(lines[0], headers, body)


def uri_user(start_line: str) -> str:
    m = re.match(r"\S+ sips?:([^@;> ]+)@", start_line)
    return m.group(1) if m else ""


def ulaw_to_linear(u: int) -> int:
    """ITU-T G.711 µ-law to 16-bit linear."""
    u = ~u & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)
    return (0x84 - t) if u & 0x80 else (t - 0x84)


ULAW = [ulaw_to_linear(i) for i in range(256)]  # every µ-law byte, decoded
