"""Options of a `sip` CTI source: callout as the desk's own SIP endpoint."""

from __future__ import annotations

import ipaddress
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # UDP address and port the desk listens on; port 0 picks a free port (tests).
    bind_address: str = "0.0.0.0"  # noqa: S104 - a desk endpoint listens on the LAN by default
    port: int = Field(5060, ge=0, le=65535)
    # The desk's name: the `desk` of every call event, and the user of the local SIP URI.
    desk: str = Field("desk", min_length=1, pattern=r"^[A-Za-z0-9._~+-]+$")
    # True: pick up every call after `answer_delay_ms`. False: ring until `answer(call_id)`.
    auto_answer: bool = True
    answer_delay_ms: int = Field(0, ge=0, le=600_000)
    # Optional registration with a PBX (digest authentication, RFC 3261 §22).
    registrar: str | None = Field(None, pattern=r"^sips?:")
    username: str | None = None
    password: SecretStr | None = None
    realm: str = "*"
    # Simultaneous calls (lines). The pjsua2-python 2.15.1 wheel is compiled with
    # PJSUA_MAX_CALLS = 4 and pjsua silently clamps higher values; a build with a larger
    # PJSUA_MAX_CALLS (config_site.h) honours up to that. A call beyond the limit is refused with
    # 486 Busy Here and reported as CallOffered + CallEnded(answered=False, reason="rejected").
    max_calls: int = Field(4, ge=1, le=512)
    # pjsip's own console log level (0 none … 6 trace). SIP message dumps stay off: they hold
    # caller numbers (STYLE.md practice 10).
    pjsip_log_level: int = Field(1, ge=0, le=6)

    @field_validator("bind_address")
    @classmethod
    def _ip_literal(cls, value: str) -> str:
        ipaddress.ip_address(value)  # ValueError names the problem
        return value

    @model_validator(mode="after")
    def _registration_needs_credentials(self) -> Self:
        if self.registrar is not None and not self.username:
            raise ValueError("registrar needs a username (and usually a password)")
        return self
