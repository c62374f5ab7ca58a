"""Sans-I/O parts of the voice channel: no asyncio, no clock, no pjsua2 (docs/style.md practice 1).

- `script()`: the words spoken on a call: the message, the incident reference digit by digit,
  repeated, then the prompt.
- `encode()` / `LineDecoder`: the worker protocol, one JSON object per line between the channel
  and a pjsua2 worker process (adapters/voice/worker.py); a garbled line is a `WorkerProtocolError`.
- `classify()`: what a call's final SIP status means for the delivery (RFC 3261 §21): 486 Busy
  Here, 600 Busy Everywhere and no answer are temporary; 404, 484, 403 and 603 permanent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from adapters.errors import ProtocolError

# DTMF keys a call can carry (RFC 4733 §3.2, events 0-15).
DTMF_KEYS = frozenset("0123456789*#ABCD")
# Spoken names of the digits, so "INC-2026-000042" is read "I N C, 2 0 2 6, 0 0 0 0 4 2".
_SPOKEN = {c: c for c in "0123456789"} | {"-": ","}
MAX_LINE = 65536

# RFC 3261 §21: statuses worth calling again later, and statuses that will not get better.
TEMPORARY = frozenset({408, 480, 486, 487, 500, 503, 504, 600})
PERMANENT = frozenset({400, 401, 403, 404, 407, 410, 484, 485, 488, 603, 604, 606})


class WorkerProtocolError(ProtocolError):
    codec = "voice-worker"


def spell(reference: str) -> str:
    """An incident reference read character by character, groups separated by pauses."""
    return " ".join(_SPOKEN.get(c, c) for c in reference.upper() if not c.isspace())


def script(text: str, reference: str, *, repeat: int, prompt: str, intro: str = "") -> str:
    """The words of one call: `intro`, then message and reference `repeat` times, then the prompt."""
    body = text.strip().rstrip(".")
    if reference and reference not in body:
        body = f"{body}. Incident {spell(reference)}"
    elif reference:
        body = body.replace(reference, f"incident {spell(reference)}")
    said = ". ".join([body] * max(1, repeat))
    parts = [p.strip().rstrip(".") for p in (intro, said, prompt)]
    return ". ".join(p for p in parts if p) + "."


def encode(message: dict[str, Any]) -> bytes:
    """One protocol message as a line of JSON."""
    return json.dumps(message, separators=(",", ":"), sort_keys=True).encode() + b"\n"


class LineDecoder:
    """Bytes from a worker in, protocol messages out. A line that is not a JSON object is a
    `WorkerProtocolError` naming it; the decoder stays usable for the next line."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buffer += data
        out: list[dict[str, Any]] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    bad = bytes(self._buffer[:80])
                    self._buffer.clear()
                    raise WorkerProtocolError("line too long", data=bad)
                return out
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if not line.strip():
                continue
            out.append(decode_line(line))

    @property
    def pending(self) -> int:
        return len(self._buffer)


def decode_line(line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkerProtocolError(f"not JSON: {exc}", data=line[:80]) from exc
    if not isinstance(value, dict) or not isinstance(value.get("ev", value.get("op")), str):
        raise WorkerProtocolError("not a protocol message (an object with 'ev' or 'op')", data=line[:80])
    return value


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a finished or failed call means: `reached` (answered: the message is `sent`), else a
    failure that is `temporary` (retry later) or not, with a reason for the audit trail."""

    reached: bool
    temporary: bool
    reason: str


def classify(status: int, *, answered: bool, ring_timeout: float, reason: str = "") -> Verdict:
    """A call's final SIP status (RFC 3261 §21) as a delivery outcome.

    Answered is reached whatever ended it (a hang-up mid-message too: the ack deadline moves the
    ladder on). Unanswered: 486/600 busy, 480, 408 and our own CANCEL at `ring_timeout` (487) are
    temporary; 404/484/403/603 and the other 4xx/6xx in PERMANENT are permanent; other 5xx are
    temporary, anything else permanent."""
    text = f"{status} {reason}".strip()
    if answered:
        return Verdict(True, False, "answered")
    if status in {487, 0}:
        return Verdict(False, True, f"no answer within {ring_timeout:g}s")
    if status in (486, 600):
        return Verdict(False, True, f"busy ({text})")
    if status in TEMPORARY or 500 <= status < 600:
        return Verdict(False, True, f"call failed ({text})")
    if status in PERMANENT:
        return Verdict(False, False, f"call refused ({text})")
    return Verdict(False, False, f"call failed ({text})")
