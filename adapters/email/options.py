"""Options of an `email` channel: one SMTP submission server and callout's own listener."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_ADDRESS = r"^[^@\s<>]+@[^@\s<>]+$"


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(min_length=1)
    # 587 submission with STARTTLS (RFC 6409 §3.1, RFC 3207); 465 implicit TLS (RFC 8314 §3.3).
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    # Verify the server's certificate; a private relay with its own CA names it in `ca_file`.
    verify_tls: bool = True
    ca_file: str = ""
    # SMTP AUTH (RFC 4954), only ever over TLS unless `security = "none"`.
    username: str = ""
    password: str = ""
    # The visible sender, and the address replies and bounces come back to: callout adds
    # "+<token>" to its local part (subaddressing), so the MTA must forward that address's mail
    # to the listener below (or to a mailbox callout polls).
    from_address: str = Field(pattern=_ADDRESS)
    reply_address: str = Field("", pattern=rf"^$|{_ADDRESS}")
    from_name: str = "callout dispatch"
    # Key of the HMAC in every token, so a forged reply cannot acknowledge a message.
    token_secret: str = Field(min_length=8)
    timeout: float = Field(20.0, gt=0)
    # Consecutive connection failures after which the channel reports itself down; while down
    # it tries a connection every `probe_interval` seconds.
    down_after: int = Field(2, ge=1)
    probe_interval: float = Field(30.0, gt=0)
    # callout's SMTP listener for replies and DSNs (RFC 5321); port 0 picks a free port.
    listen: bool = True
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(2525, ge=0, le=65535)
    max_length: int = Field(4000, ge=8)
