"""Sans-I/O part of the MQTT radio channel: addresses, topics and payloads.

Bytes and strings in, typed values out; nothing here touches a socket or a clock. Garbage never
raises anything but `GarbledUplink` (or `BadAddress` for a contact-plan address). The topic scheme
and the payloads are documented in the package docstring (`adapters.radio_mqtt`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from adapters.base import OutboundMessage
from adapters.errors import ProtocolError

TALKGROUP_PREFIX = "tg:"
# One topic level: never "/", "+", "#" or U+0000 (MQTT 5 §4.7.1, §1.5.4).
ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_PAYLOAD = 16 * 1024  # bytes; a radio's uplink is small, anything bigger is garbage
MAX_TEXT = 2000  # characters of free text kept from one uplink
MAX_REF = 128  # characters of an id quoted in an uplink

# Unit status words a radio may send, mapped to callout's UnitStatus values.
STATUS_WORDS = {
    "en_route": "en_route",
    "on_scene": "on_scene",
    "available": "available",
    "clear": "available",
    "returning": "returning",
    "unavailable": "unavailable",
    "out_of_service": "out_of_service",
}


class BadAddress(ProtocolError):
    """A contact-plan address that is neither a radio id nor ``tg:<talkgroup>``."""

    codec = "radio_mqtt"

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        super().__init__(f"bad radio address {address!r}: {reason}")


class GarbledUplink(ProtocolError):
    """A topic or payload from the broker that does not follow the scheme."""

    codec = "radio_mqtt"

    def __init__(self, reason: str, *, topic: str = "") -> None:
        self.reason = reason
        self.topic = topic
        super().__init__(f"{topic or 'uplink'}: {reason}")


# ---- addresses -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Target:
    """Where an address goes: one radio, or every radio of a talkgroup."""

    id: str
    group: bool

    @property
    def address(self) -> str:
        return f"{TALKGROUP_PREFIX}{self.id}" if self.group else self.id


def parse_address(address: str) -> Target:
    group = address.startswith(TALKGROUP_PREFIX)
    ident = address[len(TALKGROUP_PREFIX) :] if group else address
    if not ID_PATTERN.fullmatch(ident):
        raise BadAddress(address, "an id is 1-64 of A-Z a-z 0-9 _ - . (talkgroups: tg:<id>)")
    return Target(ident, group)


# ---- topics ----------------------------------------------------------------------------------
class TopicKind(StrEnum):
    UPLINK = "up"
    PRESENCE = "status"
    GATEWAY = "gateway"


@dataclass(frozen=True, slots=True)
class TopicRef:
    kind: TopicKind
    id: str  # radio id, or gateway id for GATEWAY


def check_prefix(prefix: str) -> str:
    """A prefix is one or more non-empty topic levels without wildcards (MQTT 5 §4.7.1.1)."""
    levels = prefix.split("/")
    if not prefix or any(not lv or "+" in lv or "#" in lv or "\x00" in lv for lv in levels):
        raise ValueError("must be non-empty topic levels separated by '/', without + # or NUL")
    if prefix.startswith("$"):
        raise ValueError("must not start with '$' (reserved for the broker, MQTT 5 §4.7.2)")
    return prefix


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str = "callout"

    def down(self, target: Target) -> str:
        return f"{self.prefix}/{'group' if target.group else 'radio'}/{target.id}/down"

    def uplink(self, radio: str) -> str:
        return f"{self.prefix}/radio/{radio}/up"

    def presence(self, radio: str) -> str:
        return f"{self.prefix}/radio/{radio}/status"

    def gateway(self, gw: str) -> str:
        return f"{self.prefix}/gateway/{gw}/status"

    def filters(self) -> tuple[str, str, str]:
        """Uplinks, radio presence, gateway presence ("+" matches one level, MQTT 5 §4.7.1.3)."""
        return (self.uplink("+"), self.presence("+"), self.gateway("+"))

    def parse(self, topic: str) -> TopicRef:
        """What an incoming topic is about; GarbledUplink when it is not one of ours."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            raise GarbledUplink("topic outside the prefix", topic=topic)
        levels = topic[len(head) :].split("/")
        if len(levels) == 3 and ID_PATTERN.fullmatch(levels[1]):
            section, ident, leaf = levels
            if section == "radio" and leaf == "up":
                return TopicRef(TopicKind.UPLINK, ident)
            if section == "radio" and leaf == "status":
                return TopicRef(TopicKind.PRESENCE, ident)
            if section == "gateway" and leaf == "status":
                return TopicRef(TopicKind.GATEWAY, ident)
        raise GarbledUplink("not an uplink or status topic", topic=topic)


# ---- downlink --------------------------------------------------------------------------------
def encode_downlink(message: OutboundMessage, *, ts: float) -> bytes:
    return json.dumps(
        {
            "id": message.message_id,
            "incident": message.incident_ref,
            "text": message.text,
            "priority": message.priority,
            "ack": message.needs_ack,
            "purpose": message.purpose,
            "ts": round(ts, 3),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


@dataclass(frozen=True, slots=True)
class Downlink:
    id: str
    incident: str
    text: str
    priority: str
    ack: bool
    purpose: str
    ts: float


def decode_downlink(payload: bytes) -> Downlink:
    """The inverse of `encode_downlink` (what a radio reads); used by tests and tools."""
    doc = _object(payload, "")
    return Downlink(
        id=_str(doc, "id", ""),
        incident=_str(doc, "incident", ""),
        text=_str(doc, "text", ""),
        priority=_str(doc, "priority", ""),
        ack=_bool(doc, "ack", ""),
        purpose=_str(doc, "purpose", ""),
        ts=_number(doc, "ts", ""),
    )


# ---- uplink ----------------------------------------------------------------------------------
class UplinkType(StrEnum):
    DELIVERED = "delivered"
    ACK = "ack"
    STATUS = "status"
    TEXT = "text"
    POSITION = "position"


@dataclass(frozen=True, slots=True)
class Fix:
    """A radio's GPS fix: WGS 84 degrees; `ts` POSIX seconds when it was taken, if sent."""

    lat: float
    lon: float
    ts: float | None = None


@dataclass(frozen=True, slots=True)
class Uplink:
    type: UplinkType
    id: str | None = None  # delivered/ack: the downlink id quoted; status/text: the radio's own
    status: str | None = None  # a UnitStatus value (after mapping "clear" to "available")
    text: str | None = None
    group: str | None = None  # talkgroup the quoted downlink came through
    fix: Fix | None = None  # position: always; status: when the radio sent one

    def dedupe_key(self, radio: str) -> tuple[str, str, str] | None:
        return None if self.id is None else (radio, self.type.value, self.id)


def encode_uplink(uplink: Uplink) -> bytes:
    doc: dict[str, Any] = {"type": uplink.type.value}
    for key in ("id", "status", "text", "group"):
        value = getattr(uplink, key)
        if value is not None:
            doc[key] = value
    if uplink.fix is not None:
        doc["lat"], doc["lon"] = uplink.fix.lat, uplink.fix.lon
        if uplink.fix.ts is not None:
            doc["fix_ts"] = uplink.fix.ts
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def decode_uplink(payload: bytes, *, topic: str = "") -> Uplink:
    doc = _object(payload, topic)
    raw_type = doc.get("type")
    try:
        kind = UplinkType(raw_type) if isinstance(raw_type, str) else None
    except ValueError:
        kind = None
    if kind is None:
        raise GarbledUplink(f"unknown uplink type {str(raw_type)[:32]!r}", topic=topic)
    ident = _ref(doc, topic, required=kind in (UplinkType.DELIVERED, UplinkType.ACK))
    group = None
    if "group" in doc:
        group = _str(doc, "group", topic)
        if not ID_PATTERN.fullmatch(group):
            raise GarbledUplink("group is not a talkgroup id", topic=topic)
    if kind is UplinkType.STATUS:
        word = _str(doc, "status", topic)
        if word not in STATUS_WORDS:
            raise GarbledUplink(f"unknown status {word[:32]!r}", topic=topic)
        return Uplink(kind, ident, status=STATUS_WORDS[word], fix=_fix(doc, topic, required=False))
    if kind is UplinkType.POSITION:
        return Uplink(kind, ident, fix=_fix(doc, topic, required=True))
    if kind is UplinkType.TEXT:
        text = _str(doc, "text", topic)
        if not text.strip():
            raise GarbledUplink("empty text", topic=topic)
        return Uplink(kind, ident, text=text[:MAX_TEXT])
    return Uplink(kind, ident, group=group)


def _fix(doc: dict[str, Any], topic: str, *, required: bool) -> Fix | None:
    if not required and "lat" not in doc and "lon" not in doc:
        return None
    lat, lon = _number(doc, "lat", topic), _number(doc, "lon", topic)
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise GarbledUplink("lat must be -90..90 and lon -180..180 degrees", topic=topic)
    ts = _number(doc, "fix_ts", topic) if "fix_ts" in doc else None
    if ts is not None and ts < 0:
        raise GarbledUplink("fix_ts must be POSIX seconds", topic=topic)
    return Fix(lat, lon, ts)


# ---- presence --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Presence:
    online: bool | None  # None: the retained status was cleared (unknown)
    gateway: str | None = None


def decode_presence(payload: bytes, *, topic: str = "") -> Presence:
    """``online``/``offline``, JSON ``{"status": ..., "gateway": ...}``, or empty (cleared)."""
    if not payload:
        return Presence(None)  # a zero-byte retained message deletes the retained one (§3.3.1.3)
    word = payload.strip().lower()
    if word in (b"online", b"offline"):
        return Presence(word == b"online")
    doc = _object(payload, topic)
    status = _str(doc, "status", topic)
    if status not in ("online", "offline"):
        raise GarbledUplink(f"unknown presence {status[:32]!r}", topic=topic)
    gateway = None
    if "gateway" in doc:
        gateway = _str(doc, "gateway", topic)
        if not ID_PATTERN.fullmatch(gateway):
            raise GarbledUplink("gateway is not an id", topic=topic)
    return Presence(status == "online", gateway)


# ---- helpers ---------------------------------------------------------------------------------
def _object(payload: bytes, topic: str) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD:
        raise GarbledUplink(f"payload of {len(payload)} bytes is too big", topic=topic)
    try:
        # Strict UTF-8 first: json.loads(bytes) would also guess UTF-16/32 (RFC 8259 §8.1).
        doc = _JSON.decode(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise GarbledUplink(f"not UTF-8 JSON: {type(exc).__name__}", topic=topic) from exc
    if not isinstance(doc, dict):
        raise GarbledUplink("payload is not a JSON object", topic=topic)
    return doc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity are not JSON (RFC 8259 §6)


_JSON = json.JSONDecoder(parse_constant=_no_constant)


def _str(doc: dict[str, Any], key: str, topic: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise GarbledUplink(f"{key} must be a string", topic=topic)
    return value


def _bool(doc: dict[str, Any], key: str, topic: str) -> bool:
    value = doc.get(key)
    if not isinstance(value, bool):
        raise GarbledUplink(f"{key} must be true or false", topic=topic)
    return value


def _number(doc: dict[str, Any], key: str, topic: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GarbledUplink(f"{key} must be a number", topic=topic)
    return float(value)


def _ref(doc: dict[str, Any], topic: str, *, required: bool) -> str | None:
    """An id may be a string or an integer (radios with numeric ids); never a bool or a float."""
    value = doc.get("id")
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise GarbledUplink("id must be a string or an integer", topic=topic)
    text = str(value)
    if not text or len(text) > MAX_REF:
        raise GarbledUplink(f"id must be 1-{MAX_REF} characters", topic=topic)
    return text
