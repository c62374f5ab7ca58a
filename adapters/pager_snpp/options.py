"""Options of an `snpp` channel: one SNPP server (RFC 1861)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

ServiceLevel = Annotated[int, Field(ge=0, le=11)]


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(min_length=1)
    port: int = Field(444, ge=1, le=65535)  # RFC 1861 §3
    connect_timeout: float = Field(10.0, gt=0)
    reply_timeout: float = Field(20.0, gt=0)
    # LOGIn <id> [password] (level 2, optional) after the greeting.
    login: str = Field("", pattern=r"^[\x21-\x7e]*$")
    login_password: str = Field("", pattern=r"^[\x21-\x7e]*$")
    # PAGEr <id> [password]: a pager password, if the carrier wants one.
    page_password: str = Field("", pattern=r"^[\x21-\x7e]*$")
    # Send the text with DATA instead of MESS (DATA is used anyway for text with line breaks).
    use_data: bool = False
    # Priority (P1..P4) → LEVEl 0-11 sent before PAGE; priorities not listed get the default (1).
    levels: dict[str, ServiceLevel] = Field(default_factory=lambda: {"P1": 0})
    # SUBJect <incident reference> before the message (level 2, optional).
    subject: bool = False
    max_length: int = Field(240, ge=8)
    # QUIT a connection nobody has used for this long (before the server's own 421 idle timeout).
    idle_timeout: float = Field(60.0, gt=0)
    # Health: connect at start; while down, try again every `recheck_interval` seconds.
    probe_on_start: bool = True
    recheck_interval: float = Field(60.0, gt=0)
