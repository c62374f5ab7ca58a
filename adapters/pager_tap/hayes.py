"""Sans-I/O helpers for a Hayes (ITU-T V.250) modem in front of a TAP line: result codes and the
split between command-mode lines and the data that follows CONNECT."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Result(StrEnum):
    """V.250 §5.7.1 verbose result codes (ATV1)."""

    OK = "OK"
    CONNECT = "CONNECT"
    RING = "RING"
    NO_CARRIER = "NO CARRIER"
    ERROR = "ERROR"
    NO_DIALTONE = "NO DIALTONE"
    BUSY = "BUSY"
    NO_ANSWER = "NO ANSWER"


@dataclass(frozen=True, slots=True)
class Reply:
    result: Result
    detail: str = ""  # CONNECT's rate, e.g. "1200"


def classify(line: str) -> Reply | None:
    """The result code a line carries, or None (echo, banner, ATI text)."""
    text = line.strip().upper()
    for result in Result:
        if text == result.value or (result is Result.CONNECT and text.startswith("CONNECT ")):
            return Reply(result, text[len(result.value) :].strip())
    return None


class ModemLines:
    """Splits command-mode output into lines. After a CONNECT line the modem is in data mode:
    what follows is the far end's, kept in `rest` for the TAP session, not split into lines."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.rest = b""
        self.online = False

    def feed(self, data: bytes) -> list[Reply]:
        if self.online:
            self.rest += data
            return []
        self._buf += bytes(b & 0x7F for b in data)
        replies: list[Reply] = []
        while not self.online:
            cut = min((i for i in (self._buf.find(b"\r"), self._buf.find(b"\n")) if i >= 0), default=-1)
            if cut < 0:
                break
            line = self._buf[:cut].decode("ascii", "replace")
            del self._buf[: cut + 1]
            reply = classify(line)
            if reply is None:
                continue
            replies.append(reply)
            if reply.result is Result.CONNECT:
                self.online = True
                self.rest = bytes(self._buf).lstrip(b"\r\n")
                self._buf.clear()
        if len(self._buf) > 1024:  # no line end in sight: noise
            self._buf.clear()
        return replies


FAILURES = frozenset({Result.NO_CARRIER, Result.ERROR, Result.NO_DIALTONE, Result.BUSY, Result.NO_ANSWER})
