"""Options of a `sip` CTI source: callout as the desk's own SIP endpoint."""

from __future__ import annotations

import ipaddress
from typing import Literal, Self

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
    # Desk worker processes behind one SIP front on bind_address:port (adapters/sip/pool.py),
    # four lines each; 0: one desk in the gateway's own process (max_calls lines at most 4).
    workers: int = Field(0, ge=0, le=64)
    # A call's audio. "none": the desk only detects and answers calls (no sound device, nothing
    # played or recorded), so pjsua answers with its loopback media transport and a call opens no
    # RTP/RTCP sockets; the SDP answer names 127.0.0.1 (or the bind address). "rtp": two real UDP
    # sockets per call on bind_address (ports from 4000). pjsua creates them before any callback
    # could refuse the call, and the wheel's media I/O queue holds 64 of them, each kept 500 ms
    # after close, so under a burst of short calls the desk holds new INVITEs back (at most about
    # 0.6 s) until sockets are free again: about 45 new calls per second at most.
    media: Literal["none", "rtp"] = "none"
    # pjsip's own console log level (0 none … 6 trace). SIP message dumps stay off: they hold
    # caller numbers (docs/style.md practice 10).
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
