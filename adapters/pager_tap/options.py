"""Options of a `tap` channel: one paging terminal reached over a serial line (optionally through
a Hayes modem) or over TCP."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.transport import LineOptions


class ModemOptions(BaseModel):
    """A Hayes modem on the serial line (or behind a TCP terminal server) that dials the terminal."""

    model_config = ConfigDict(extra="forbid")
    number: str = Field(min_length=1, pattern=r"^[0-9*#,WwPpTt+ ]+$")
    init: list[str] = Field(default_factory=lambda: ["ATZ", "ATE0V1Q0"])
    dial: str = Field("ATDT", pattern=r"^ATD[TP]?$")
    command_timeout: float = Field(5.0, gt=0)
    connect_timeout: float = Field(60.0, gt=0)
    guard_time: float = Field(1.0, ge=0)  # around "+++" when we have to hang up ourselves
    hangup_wait: float = Field(3.0, ge=0)  # for the terminal's own hang-up (NO CARRIER) after logoff


class Options(LineOptions):
    model_config = ConfigDict(extra="forbid")
    # The line (adapters/transport.py): a serial `device` or `host` and `port` (TAP over TCP).
    # Serial line: TAP 1.8 §2 asks for 7 data bits, even parity, 1 stop bit.
    baudrate: int = Field(1200, gt=0)
    bytesize: Literal[7, 8] = 7  # narrower than the mixin's 5-8
    parity: Literal["N", "E", "O", "M", "S"] = "E"
    connect_timeout: float = Field(10.0, gt=0)
    modem: ModemOptions | None = None
    # Logon (§3 step 5A): ESC, service and category ("PG1"), then the optional password.
    logon: str = Field("PG1", pattern=r"^[A-Z]{2}[0-9]$")
    password: str = Field("", pattern=r"^[A-Za-z0-9]{0,16}$")
    # SUB transparency for control characters (TAP 1.6+); off for older terminals.
    transparency: bool = True
    # Characters per page the terminal takes (replaced by the channel's max_length from config).
    max_length: int = Field(128, ge=8)
    # >1: a message longer than max_length goes as up to this many pages, in order.
    max_parts: int = Field(1, ge=1, le=9)
    # §7 timers and retries.
    wake_interval: float = Field(2.0, gt=0)
    wake_tries: int = Field(3, ge=1)
    response_timeout: float = Field(10.0, gt=0)
    logon_tries: int = Field(3, ge=1)
    block_retries: int = Field(3, ge=0)
    logoff_timeout: float = Field(4.0, gt=0)
    # Session: an idle session logs off after `linger` seconds; sends that arrive before that join it.
    linger: float = Field(2.0, ge=0)
    max_pages_per_session: int = Field(0, ge=0)  # 0: no limit of our own (the terminal may say 112)
    # Health: log on once at start to find out whether the terminal answers; while the channel is
    # down, try again every `recheck_interval` seconds.
    probe_on_start: bool = True
    recheck_interval: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _one_transport(self) -> Self:
        tcp = self.host is not None or self.port is not None
        if (self.device is None) == (not tcp):
            raise ValueError("set either `device` (serial line) or `host` and `port` (TCP)")
        if tcp and (self.host is None or self.port is None):
            raise ValueError("TAP over TCP needs both `host` and `port`")
        return self
