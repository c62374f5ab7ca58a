"""Options of an `sms_modem` channel: a pool of GSM modems and how patiently to talk to them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.transport import LineOptions

# TS 23.040 §9.2.3.24.1: 153 GSM 7-bit characters per part of a concatenated message.
GSM7_PER_PART = 153


class ModemOptions(LineOptions):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    # The line (adapters/transport.py): a serial device ("/dev/ttyUSB2", "/dev/serial/by-id/...",
    # 115200 8N1 unless set) or "tcp://host:port" (a modem behind a terminal server).
    device: str = Field(min_length=1)
    baudrate: int = Field(115200, gt=0)
    # Entered once when the SIM asks for it; never retried after a rejection (a PUK lock is worse).
    pin: str | None = Field(None, pattern=r"^[0-9]{4,8}$")
    # AT+CNMI=<mode>,<mt>,<bm>,<ds>,<bfr> (27.005 §3.4.1): +CMTI for SMS, +CDS for status reports.
    cnmi: str = Field("2,1,0,1,0", pattern=r"^[0-9](,[0-9]?){0,4}$")
    # Sent after a modem stopped answering and its port was reopened.
    reset_command: str = Field("ATZ", pattern=r"^AT[ -~]*$")
    # SMSC for the PDU's SMSC part; "" = the one stored in the SIM (+CSCA; PDU prefix 00).
    smsc: str = Field("", pattern=r"^(\+?[0-9]{1,20})?$")

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value.startswith("tcp://"):
            host, _, port = value[6:].rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError("a TCP modem is tcp://host:port")
        return value

    @model_validator(mode="after")
    def _device_only(self) -> ModemOptions:
        if self.host is not None or self.port is not None:
            raise ValueError("a modem's line is its `device` (a serial device or tcp://host:port)")
        return self


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    modems: list[ModemOptions] = Field(min_length=1)
    # Parts of a concatenated message (TS 23.040 §9.2.3.24.1): 153 GSM-7 / 67 UCS-2 characters each.
    max_parts: int = Field(4, ge=1, le=255)
    max_length: int | None = Field(None, ge=8)  # default: 153 * max_parts (160 for one part)
    status_reports: bool = True  # TP-SRR (TS 23.040 §9.2.3.5)
    validity_minutes: int | None = Field(1440, ge=5, le=441 * 1440)  # relative TP-VP; None: none
    command_timeout: float = Field(5.0, gt=0)  # any command but +CMGS
    send_timeout: float = Field(20.0, gt=0)  # +CMGS: the network answers, this can take a while
    send_deadline: float = Field(25.0, gt=0)  # one send, across modems, before it fails temporarily
    probe_timeout: float = Field(1.0, gt=0)  # each `AT` while waiting for a modem to come back
    reset_wait: float = Field(30.0, gt=0)  # how long a reset or reopened modem may stay silent
    poll_interval: float = Field(30.0, gt=0)  # SIM, registration and signal checks
    start_timeout: float = Field(15.0, gt=0)  # how long entering the channel waits for first checks
    bench_after: int = Field(3, ge=1)  # consecutive temporary send failures that bench a modem
    retry_base: float = Field(5.0, gt=0)  # first wait before a benched modem is reopened
    retry_cap: float = Field(300.0, gt=0)
    reassembly_timeout: float = Field(600.0, gt=0)  # parts of an incoming concatenated SMS

    @model_validator(mode="after")
    def _unique(self) -> Options:
        names = [m.name for m in self.modems]
        if len(set(names)) != len(names):
            raise ValueError("modem names must be unique")
        return self

    @property
    def capacity(self) -> int:
        return 160 if self.max_parts == 1 else GSM7_PER_PART * self.max_parts
