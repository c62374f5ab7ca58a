"""Options of a `kiss_radio` channel: APRS messaging through a KISS TNC on a serial port or TCP."""

from __future__ import annotations

from pydantic import AliasChoices, ConfigDict, Field, field_validator, model_validator

from adapters.radio_kiss.aprs import MAX_TEXT
from adapters.radio_kiss.framing import MAX_DIGIPEATERS, Address, AX25Error
from adapters.transport import LineOptions


def _address(value: str) -> str:
    try:
        address = Address.parse(value)
    except AX25Error as exc:
        raise ValueError(exc.reason) from exc
    if address.flag:
        raise ValueError(f"{value!r}: '*' (already repeated) makes no sense here")
    return str(address)


class Options(LineOptions):
    model_config = ConfigDict(extra="forbid")
    # Our station: the source of every packet, and the addressee stations reply to.
    callsign: str = Field(examples=["N0GW-10"])
    # APRS "tocall" (APRS 1.0.1 ch. 3): APZxxx is the experimental block.
    destination: str = "APZCLO"
    path: list[str] = Field(default_factory=lambda: ["WIDE1-1"], max_length=MAX_DIGIPEATERS)
    kiss_port: int = Field(0, ge=0, le=15, description="TNC port (high nibble of the KISS type byte)")

    # Exactly one transport (adapters/transport.py): a serial `device` (or pyserial URL, 9600 8N1
    # unless set) or KISS over TCP on `host` and `tcp_port` (direwolf: 8001; `port` works too).
    port: int = Field(8001, ge=1, le=65535, validation_alias=AliasChoices("tcp_port", "port"))

    # Seconds to wait for the ack after each transmission: one transmission per entry, then the
    # message is reported undelivered. The default follows APRS's decaying retry (8 s, doubling).
    retry_intervals: list[float] = Field(default_factory=lambda: [8.0, 16.0, 32.0, 64.0], min_length=1)
    # An incoming message with the same source and number within this window is a copy.
    duplicate_window: float = Field(300.0, gt=0)
    # First message number after start (None: a random one, so a restart does not reuse numbers
    # that stations may still hold as recent and drop as duplicates).
    first_msgno: int | None = Field(None, ge=1, le=99_999)

    max_length: int = Field(MAX_TEXT, ge=8, le=MAX_TEXT)
    max_parts: int = Field(4, ge=1, le=9)

    # Link supervision: the TNC is "silent" when nothing at all (not even a digipeater's echo of
    # our own packets) is heard this long after a transmission; None: never judge it silent.
    silence_timeout: float | None = Field(300.0, gt=0)
    # While silent, a status packet is sent at the reconnect back-off to draw an echo.
    probe_text: str = Field("callout dispatch gateway", max_length=62)
    open_timeout: float = Field(10.0, gt=0)
    write_timeout: float = Field(5.0, gt=0)
    reconnect_min: float = Field(1.0, gt=0)
    reconnect_max: float = Field(60.0, gt=0)

    # KISS §3 parameters sent to the TNC after each open (None: leave the TNC's setting).
    txdelay: int | None = Field(None, ge=0, le=255, description="10 ms units")
    persistence: int | None = Field(None, ge=0, le=255)
    slot_time: int | None = Field(None, ge=0, le=255, description="10 ms units")

    @property
    def tcp_port(self) -> int:
        return self.port

    @field_validator("callsign", "destination")
    @classmethod
    def _station(cls, v: str) -> str:
        return _address(v)

    @field_validator("path")
    @classmethod
    def _path(cls, v: list[str]) -> list[str]:
        return [_address(a) for a in v]

    @field_validator("probe_text")
    @classmethod
    def _printable(cls, v: str) -> str:
        if any(not " " <= ch <= "~" for ch in v):
            raise ValueError("must be printable ASCII")
        return v

    @model_validator(mode="after")
    def _one_transport(self) -> Options:
        if (self.device is None) == (self.host is None):
            raise ValueError("set exactly one of 'device' (serial port) and 'host' (KISS over TCP)")
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("reconnect_max must not be below reconnect_min")
        return self
