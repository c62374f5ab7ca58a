"""The radio side of callout's MQTT radio topic scheme, written from its documentation (the
`adapters.radio_mqtt` package docstring), not from its code: a codec bug cannot hide itself.

    <prefix>/radio/<radio>/down     downlink to one radio
    <prefix>/group/<tg>/down        downlink to a talkgroup
    <prefix>/radio/<radio>/up       uplink: {"type": "delivered"|"ack"|"status"|"text"|"position", ...}
                                    (position, and optionally status: "lat", "lon", "fix_ts")
    <prefix>/radio/<radio>/status   retained presence {"status": "online"|"offline", "gateway"}
    <prefix>/gateway/<gw>/status    retained gateway presence, last will "offline"
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

GARBAGE = (
    b"\xff\xfe\x00garbage",
    b'{"type": "ack", "id": ',
    b"[1, 2, 3]",
    b'{"type": "teleport", "id": "1"}',
    b'{"type": "status", "status": "flying"}',
    b"",
)


@dataclass(frozen=True)
class Scheme:
    prefix: str = "callout"

    def downlink_filters(self) -> tuple[str, str]:
        return (f"{self.prefix}/radio/+/down", f"{self.prefix}/group/+/down")

    def uplink(self, radio: str) -> str:
        return f"{self.prefix}/radio/{radio}/up"

    def presence(self, radio: str) -> str:
        return f"{self.prefix}/radio/{radio}/status"

    def gateway(self, gw: str) -> str:
        return f"{self.prefix}/gateway/{gw}/status"

    def radio_down(self, radio: str) -> str:
        return f"{self.prefix}/radio/{radio}/down"

    def group_down(self, group: str) -> str:
        return f"{self.prefix}/group/{group}/down"

    def parse_down(self, topic: str) -> tuple[str, str] | None:
        """("radio", id) or ("group", id) for a downlink topic; None for anything else."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head) :].split("/")
        if len(parts) == 3 and parts[0] in ("radio", "group") and parts[2] == "down" and parts[1]:
            return parts[0], parts[1]
        return None


@dataclass(frozen=True)
class Downlink:
    id: str
    incident: str
    text: str
    priority: str
    ack: bool
    purpose: str
    ts: float


def read_downlink(payload: bytes) -> Downlink | None:
    """The downlink a radio displays, or None when the payload is not one."""
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str) or not doc["id"]:
        return None
    return Downlink(
        id=doc["id"],
        incident=str(doc.get("incident", "")),
        text=str(doc.get("text", "")),
        priority=str(doc.get("priority", "")),
        ack=doc.get("ack") is True,
        purpose=str(doc.get("purpose", "dispatch")),
        ts=float(doc["ts"]) if isinstance(doc.get("ts"), int | float) else 0.0,
    )


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def delivered(msg_id: str, group: str | None = None) -> bytes:
    return _json({"type": "delivered", "id": msg_id, **({"group": group} if group else {})})


def ack(msg_id: str, group: str | None = None) -> bytes:
    return _json({"type": "ack", "id": msg_id, **({"group": group} if group else {})})


def _fix(fix: tuple[float, float, float | None] | None) -> dict[str, Any]:
    if fix is None:
        return {}
    lat, lon, ts = fix
    return {"lat": lat, "lon": lon, **({"fix_ts": ts} if ts is not None else {})}


def status(word: str, uplink_id: str, fix: tuple[float, float, float | None] | None = None) -> bytes:
    return _json({"type": "status", "status": word, "id": uplink_id, **_fix(fix)})


def position(lat: float, lon: float, uplink_id: str, fix_ts: float | None = None) -> bytes:
    """A GPS fix: degrees, and the POSIX seconds it was taken (omitted: callout dates it)."""
    return _json({"type": "position", "id": uplink_id, **_fix((lat, lon, fix_ts))})


def text(words: str, uplink_id: str) -> bytes:
    return _json({"type": "text", "text": words, "id": uplink_id})


def presence(online: bool, gateway: str) -> bytes:
    return _json({"status": "online" if online else "offline", "gateway": gateway})
