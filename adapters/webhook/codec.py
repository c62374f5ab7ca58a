"""Sans-I/O part of the webhook channel: the request body, and the meaning of a response."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from adapters.base import OutboundMessage


def request_url(template: str, address: str) -> str:
    return template.replace("{address}", quote(address, safe=""))


def request_body(msg: OutboundMessage) -> bytes:
    return json.dumps(
        {
            "message_id": msg.message_id,
            "address": msg.address,
            "text": msg.text,
            "parts": list(msg.parts),
            "incident": msg.incident_ref,
            "priority": msg.priority,
            "needs_ack": msg.needs_ack,
            "purpose": msg.purpose,
        }
    ).encode()


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    temporary: bool
    reason: str
    channel_ref: str | None = None


def interpret(status: int, body: bytes) -> Outcome:
    """2xx: accepted. 408, 425, 429 and 5xx: try again later (RFC 9110 §15). Other 4xx: rejected."""
    ref: str | None = None
    try:
        doc: Any = json.loads(body) if body else None
        if isinstance(doc, dict) and isinstance(doc.get("id"), str | int):
            ref = str(doc["id"])
    except (ValueError, UnicodeDecodeError):
        doc = None
    if 200 <= status < 300:
        return Outcome(True, False, f"HTTP {status}", ref)
    temporary = status in (408, 425, 429) or status >= 500
    return Outcome(False, temporary, f"HTTP {status}")
