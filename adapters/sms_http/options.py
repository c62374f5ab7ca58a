"""Options of an `sms_http` channel (an SMS provider's JSON-over-HTTP API)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["delivered", "failed", "pending"]

DEFAULT_STATUS_MAP: dict[str, Outcome] = {
    "delivered": "delivered",
    "delivrd": "delivered",
    "failed": "failed",
    "undelivered": "failed",
    "undeliverable": "failed",
    "rejected": "failed",
    "expired": "failed",
    "queued": "pending",
    "accepted": "pending",
    "sent": "pending",
    "sending": "pending",
    "buffered": "pending",
}


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # ---- sending: one POST per message ----
    url: str = Field(pattern=r"^https?://")
    # The credential, sent as `auth_header: auth_value` (e.g. Authorization: Bearer …).
    auth_header: str = "Authorization"
    auth_value: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    # The JSON body. In every string, {to} {text} {id} {from} are replaced by the destination,
    # the message text, callout's message id and `sender`; a string that is exactly one
    # placeholder becomes that value, and the rest of the JSON is kept as written.
    body_template: dict[str, Any] = Field(
        default_factory=lambda: {"to": "{to}", "text": "{text}", "reference": "{id}"}
    )
    sender: str = ""
    # Where the provider's message id is in the response: a dotted path, list indices allowed
    # ("messages.0.id").
    id_path: str = Field("id", min_length=1)
    # Optional: where the response states the message status, mapped by `status_map`
    # ("failed" makes the send fail permanently, "delivered" confirms it at once).
    response_status_path: str = ""
    status_map: dict[str, Outcome] = Field(default_factory=lambda: dict(DEFAULT_STATUS_MAP))
    timeout: float = Field(10.0, gt=0)
    down_after: int = Field(3, ge=1)  # consecutive connection failures before the channel is down
    probe_interval: float = Field(15.0, gt=0)  # while down, how often to look at the provider
    max_length: int = Field(612, ge=8)
    # ---- callbacks (receipts and replies) at POST /api/v1/channels/<name>/callback ----
    signature_secret: str = ""  # HMAC-SHA256 key shared with the provider; empty: refuse callbacks
    signature_header: str = "X-Signature"
    signature_encoding: Literal["hex", "base64"] = "hex"
    signature_prefix: str = ""  # e.g. "sha256=" when the provider prefixes the digest
    # The signed bytes: the raw body, or "<timestamp>.<raw body>" (then the timestamp is required).
    signed_payload: Literal["body", "timestamp.body"] = "body"
    timestamp_header: str = "X-Timestamp"  # POSIX seconds; "" when the provider sends none
    max_skew: float = Field(300.0, gt=0)  # older (or further in the future) callbacks are refused
    # Where things are in a callback body (one JSON object, or a list of them, or a list under
    # `callback_events_path`). An object with a status is a receipt; one with sender and text is
    # an inbound message.
    callback_events_path: str = ""
    callback_id_path: str = "id"
    callback_status_path: str = "status"
    callback_reason_path: str = "error"
    callback_from_path: str = "from"
    callback_text_path: str = "text"
