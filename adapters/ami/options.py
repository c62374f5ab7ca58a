"""Options of an `ami` CTI source: an Asterisk Manager Interface client."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = Field(min_length=1)
    secret: SecretStr
    # Event classes for Login (`Events:`); the AMI user needs read=call,agent in manager.conf.
    events: str = "call,agent"
    # Ask Asterisk to send only the events the tracker reads (the `Filter` action; needs
    # write=system). Refused or not, events are also filtered on our side.
    server_filter: bool = True
    # Keepalive: a `Ping` every `ping_interval` s; no answer within `ping_timeout` s = dead link.
    ping_interval: float = Field(10.0, gt=0)
    ping_timeout: float = Field(5.0, gt=0)
    connect_timeout: float = Field(5.0, gt=0)
    # Reconnect back-off: first delay, factor, cap (seconds), jitter (fraction).
    reconnect_initial: float = Field(0.5, gt=0)
    reconnect_factor: float = Field(2.0, ge=1)
    reconnect_max: float = Field(30.0, gt=0)
    reconnect_jitter: float = Field(0.1, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.reconnect_max < self.reconnect_initial:
            raise ValueError("reconnect_max must be >= reconnect_initial")
        if self.ping_timeout > self.ping_interval * 10:
            raise ValueError("ping_timeout is far longer than ping_interval")
        return self
