"""Options of a `webhook` channel."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # `{address}` in the URL is replaced by the endpoint's address (URL-quoted).
    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(10.0, gt=0)  # the whole request: a hung endpoint fails temporarily
    # Header carrying callout's attempt id, so a receiver drops a retried copy of a message it
    # already has (draft-ietf-httpapi-idempotency-key-header). Empty: not sent.
    idempotency_header: str = Field("Idempotency-Key", pattern=r"^[A-Za-z0-9-]*$")
    # Consecutive connection failures after which the channel reports itself down.
    down_after: int = Field(3, ge=1)
    # While down, how often to try a TCP connection to the URL's host; it is up again once one opens.
    probe_interval: float = Field(10.0, gt=0)
    # Shared secret that inbound calls to /api/v1/channels/<name>/inbound must present.
    inbound_secret: str = ""
    max_length: int = Field(1000, ge=8)
