"""Personal data redaction: caller numbers and names never appear whole in logs or exports."""

from __future__ import annotations

import re
from typing import Any

# A phone number: 8+ digits, optionally with a leading + and single spaces between digits. Not
# part of a longer token, so references like INC-2026-000042 and timestamps are left alone.
_PHONE = re.compile(r"(?<![\w\-:.])\+?\d(?: ?\d){7,}(?![\w\-:.])")


def mask_number(number: str | None) -> str | None:
    """Keep the first four and last two characters: `+447700900121` -> `+4477*******21`."""
    if number is None:
        return None
    n = number.strip()
    if len(n) <= 6:
        return "*" * len(n)
    return n[:4] + "*" * (len(n) - 6) + n[-2:]


def mask_name(name: str | None) -> str | None:
    if name is None:
        return None
    return " ".join(part[:1] + "*" * (len(part) - 1) for part in name.split())


def redact_text(text: str) -> str:
    """Mask anything in free text that looks like a phone number."""
    return _PHONE.sub(lambda m: mask_number(m.group(0)) or "", text)


def mask_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A record with its personal fields masked (the view of a role without `personal.read`)."""
    return redact_fields(data)


def redact_fields(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if "caller_number" in out:
        out["caller_number"] = mask_number(out["caller_number"])
    if "caller_name" in out:
        out["caller_name"] = mask_name(out["caller_name"])
    return out
