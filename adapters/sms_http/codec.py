"""Sans-I/O part of the sms_http channel: the request, the meaning of a response, and provider
callbacks (signature check, then receipts and replies as channel events)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.base import DeliveryReport, InboundText, OutboundMessage
from adapters.errors import ProtocolError
from adapters.sms_http.options import Options

_PLACEHOLDER = re.compile(r"\{(to|text|id|from)\}")
MISSING: Any = object()  # what `lookup` returns for an absent path


# ---- errors ---------------------------------------------------------------------------------------
class CallbackRejected(ProtocolError):
    """A provider callback callout refuses. `http_status` is what the API route should answer;
    `reason` (also the `problem`) says why."""

    codec = "sms_http"
    http_status = 400

    def __init__(self, reason: str, *, data: bytes | str = b"") -> None:
        self.reason = reason
        super().__init__(reason, data=data)


class BadSignature(CallbackRejected):
    """Missing or wrong HMAC signature, or no secret configured."""

    http_status = 401


class StaleCallback(CallbackRejected):
    """The timestamp is missing (when signed), unreadable, or too far from now (a replay)."""

    http_status = 401


class MalformedCallback(CallbackRejected):
    """Signed correctly, but the body is not what the options describe."""

    http_status = 400


# ---- sending --------------------------------------------------------------------------------------
def _fill(value: Any, fields: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        m = _PLACEHOLDER.fullmatch(value)
        if m:
            return fields[m.group(1)]
        return _PLACEHOLDER.sub(lambda m: fields[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _fill(v, fields) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, fields) for v in value]
    return value


def request_body(options: Options, msg: OutboundMessage) -> bytes:
    """The body template with {to} {text} {id} {from} filled in (one pass: a text that contains
    "{id}" stays as it is)."""
    fields = {"to": msg.address, "text": msg.text, "id": msg.message_id, "from": options.sender}
    return json.dumps(_fill(options.body_template, fields), ensure_ascii=False).encode()


def request_headers(options: Options) -> dict[str, str]:
    headers = {"Content-Type": "application/json", **options.headers}
    if options.auth_value:
        headers[options.auth_header] = options.auth_value
    return headers


def lookup(doc: Any, path: str) -> Any:
    """The value at a dotted path ("messages.0.id"); `MISSING` when absent."""
    cur = doc
    for key in path.split("."):
        if isinstance(cur, dict) and key in cur:
            cur = cur[key]
        elif isinstance(cur, list) and key.lstrip("-").isdigit() and -len(cur) <= int(key) < len(cur):
            cur = cur[int(key)]
        else:
            return MISSING
    return cur


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or value is MISSING or value is None:
        return None
    if isinstance(value, str | int | float):
        return str(value)
    return None


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    temporary: bool
    reason: str
    provider_id: str | None = None
    delivered: bool = False
    retry_after: float | None = None


def interpret(options: Options, status: int, body: bytes, retry_after: str | None = None) -> Outcome:
    """2xx with a provider id: accepted. 408, 425, 429 and 5xx: temporary (RFC 9110 §15, RFC 6585
    §4). Other statuses, a 2xx without an id, or a status that maps to "failed": permanent."""
    try:
        doc: Any = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        doc = None
    wait: float | None = None
    if retry_after is not None:
        try:
            wait = max(0.0, float(retry_after))
        except ValueError:
            wait = None
    if not 200 <= status < 300:
        temporary = status in (408, 425, 429) or status >= 500
        detail = _scalar(lookup(doc, "error")) or _scalar(lookup(doc, "message")) if doc is not None else None
        reason = f"HTTP {status}" + (f": {detail}" if detail else "")
        return Outcome(False, temporary, reason, retry_after=wait)
    provider_id = _scalar(lookup(doc, options.id_path))
    if not provider_id:
        return Outcome(False, False, f"HTTP {status} without a message id at {options.id_path!r}")
    mapped = "pending"
    if options.response_status_path:
        raw = _scalar(lookup(doc, options.response_status_path))
        mapped = options.status_map.get((raw or "").lower(), "pending")
        if mapped == "failed":
            return Outcome(False, False, f"provider status {raw!r}", provider_id)
    return Outcome(True, False, f"HTTP {status}", provider_id, delivered=mapped == "delivered")


# ---- callbacks ------------------------------------------------------------------------------------
def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lower = name.lower()
    for key, val in headers.items():
        if key.lower() == lower:
            return val
    return None


def sign(secret: str, payload: bytes, encoding: str = "hex") -> str:
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


def verify(options: Options, headers: Mapping[str, str], body: bytes, now: float) -> None:
    """HMAC-SHA256 over the raw body (or "<timestamp>.<body>"), compared in constant time, and a
    timestamp within `max_skew` of `now` whenever the provider sends one."""
    if not options.signature_secret:
        raise BadSignature("no signature_secret configured: callbacks are refused")
    stamp = _header(headers, options.timestamp_header) if options.timestamp_header else None
    payload = body
    if options.signed_payload == "timestamp.body":
        if stamp is None:
            raise StaleCallback(f"missing {options.timestamp_header} header")
        payload = stamp.encode() + b"." + body
    given = _header(headers, options.signature_header)
    if given is None:
        raise BadSignature(f"missing {options.signature_header} header")
    given = given.strip()
    if options.signature_prefix:
        if not given.startswith(options.signature_prefix):
            raise BadSignature(f"signature does not start with {options.signature_prefix!r}")
        given = given[len(options.signature_prefix) :]
    expected = sign(options.signature_secret, payload, options.signature_encoding)
    if options.signature_encoding == "hex":
        given = given.lower()
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", errors="replace")):
        raise BadSignature("signature does not match")
    if stamp is not None:
        try:
            when = float(stamp)
        except ValueError:
            raise StaleCallback(f"unreadable timestamp {stamp[:40]!r}") from None
        if not math.isfinite(when) or abs(now - when) > options.max_skew:
            raise StaleCallback(f"timestamp {stamp[:40]} is more than {options.max_skew:g}s from now")


def _events_of(options: Options, doc: Any) -> list[Any]:
    if options.callback_events_path:
        doc = lookup(doc, options.callback_events_path)
        if doc is MISSING:
            raise MalformedCallback(f"no {options.callback_events_path!r} in the body")
    items = doc if isinstance(doc, list) else [doc]
    if not items or not all(isinstance(i, dict) for i in items):
        raise MalformedCallback("the body must be a JSON object or a list of objects")
    return items


def parse_callback(
    options: Options, headers: Mapping[str, str], body: bytes, now: float
) -> list[DeliveryReport | InboundText]:
    """Verify a provider callback, then map it to events. Receipts whose status maps to
    "pending" (or to nothing known) give no event; anything unreadable is MalformedCallback."""
    verify(options, headers, body, now)
    try:
        doc: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedCallback(f"the body is not JSON: {exc}") from None
    events: list[DeliveryReport | InboundText] = []
    for item in _events_of(options, doc):
        status = _scalar(lookup(item, options.callback_status_path))
        if status is not None:
            ref = _scalar(lookup(item, options.callback_id_path))
            if not ref:
                raise MalformedCallback(f"a receipt without {options.callback_id_path!r}")
            outcome = options.status_map.get(status.lower())
            if outcome is None or outcome == "pending":
                continue
            reason = (
                ""
                if outcome == "delivered"
                else (_scalar(lookup(item, options.callback_reason_path)) or status)
            )
            events.append(
                DeliveryReport(
                    channel_ref=ref,
                    delivered=outcome == "delivered",
                    reason=reason,
                    evidence={"provider_status": status},
                )
            )
            continue
        sender = _scalar(lookup(item, options.callback_from_path))
        text = lookup(item, options.callback_text_path)
        if not sender or not isinstance(text, str):
            raise MalformedCallback(
                f"neither a receipt ({options.callback_status_path!r}) nor a message "
                f"({options.callback_from_path!r} and {options.callback_text_path!r})"
            )
        ref = _scalar(lookup(item, options.callback_id_path))
        events.append(InboundText(address=sender, text=text, evidence={"provider_id": ref} if ref else {}))
    return events
