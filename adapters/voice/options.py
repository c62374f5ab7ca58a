"""Options of a `voice` channel: SIP calls that speak the message and take a DTMF digit."""

from __future__ import annotations

import ipaddress
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The callee's SIP URI; `{address}` is the endpoint's address (a number or a user), e.g.
    # "sip:{address}@pbx.example" through a PBX or trunk, "sip:{address}" for a full URI.
    uri_template: str = Field("sip:{address}", pattern=r"^sips?:.*\{address\}")
    # Optional registration with the PBX or trunk; `username`/`password` also answer digest
    # challenges (401/407) to an INVITE (RFC 3261 §22.2) without a registrar.
    registrar: str | None = Field(None, pattern=r"^sips?:")
    username: str | None = None
    password: SecretStr | None = None
    realm: str = "*"
    from_uri: str | None = Field(None, pattern=r"^sips?:")  # our identity (From); default sip:callout@host
    bind_address: str = "0.0.0.0"  # noqa: S104 - SIP and RTP on the LAN by default
    # Worker processes, four calls each (the pjsua2-python wheel's PJSUA_MAX_CALLS).
    workers: int = Field(2, ge=1, le=64)
    calls_per_worker: int = Field(4, ge=1, le=4)
    # CANCEL an unanswered call after this; under the engine's send_timeout (30 s by default).
    ring_timeout: float = Field(25.0, gt=0, le=300)
    digit_timeout: float = Field(10.0, gt=0, le=300)  # after the prompt, wait this long for a key
    repeat: int = Field(2, ge=1, le=5)  # how many times the message is spoken
    voice: str = Field("en", pattern=r"^[A-Za-z0-9_+-]{1,32}$")  # espeak-ng voice / language
    speed: int = Field(150, ge=80, le=400)  # words per minute
    intro: str = "This is callout."
    prompt: str = "Press 1 to accept, 2 to decline, 3 when en route."
    confirmations: dict[str, str] = Field(
        default_factory=lambda: {
            "1": "Accepted. Thank you.",
            "2": "Declined. Thank you.",
            "3": "En route. Thank you.",
            "4": "On scene. Thank you.",
            "5": "Clear. Thank you.",
        }
    )
    cache_dir: str | None = None  # rendered speech; default a private temporary directory
    pjsip_log_level: int = Field(1, ge=0, le=6)
    restart_delay: float = Field(0.5, gt=0, le=60)  # before a crashed worker is started again

    @field_validator("bind_address")
    @classmethod
    def _ip_literal(cls, value: str) -> str:
        ipaddress.ip_address(value)
        return value

    @field_validator("confirmations")
    @classmethod
    def _reply_digits(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(set(value) - set("12345"))
        if bad:
            raise ValueError(f"confirmations are for the reply digits 1-5, not {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _registration_needs_credentials(self) -> Self:
        if self.registrar is not None and not self.username:
            raise ValueError("registrar needs a username (and usually a password)")
        return self
