"""Options of a `webhook` channel."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # `{address}` in the URL is replaced by the endpoint's address (URL-quoted).
    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(10.0, gt=0)
    # Consecutive connection failures after which the channel reports itself down.
    down_after: int = Field(3, ge=1)
    # While down, how often to try a TCP connection to the URL's host; it is up again once one opens.
    probe_interval: float = Field(10.0, gt=0)
    # Shared secret that inbound calls to /api/v1/channels/<name>/inbound must present.
    inbound_secret: str = ""
    max_length: int = Field(1000, ge=8)
