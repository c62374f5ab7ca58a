"""Options of an `smpp` channel (an SMPP 3.4 ESME bound as transceiver)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.smpp.content import MAX_PARTS, UCS2_PART


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(2775, ge=1, le=65535)
    # bind_transceiver fields (SMPP 3.4 §4.1.5); lengths exclude the NUL.
    system_id: str = Field(min_length=1, max_length=15, pattern=r"^[\x20-\x7e]*$")
    password: str = Field("", max_length=8, pattern=r"^[\x20-\x7e]*$")
    system_type: str = Field("", max_length=12, pattern=r"^[\x20-\x7e]*$")
    address_range: str = Field("", max_length=40, pattern=r"^[\x20-\x7e]*$")
    service_type: str = Field("", max_length=5, pattern=r"^[\x20-\x7e]*$")
    # Sender ("" lets the SMSC choose). TON/NPI per §5.2.5-6: 5/0 alphanumeric ("CALLOUT"),
    # 1/1 international E.164 ("447700900000"), 0/0 unknown.
    source_addr: str = Field("", max_length=20, pattern=r"^[\x20-\x7e]*$")
    source_addr_ton: int = Field(0, ge=0, le=6)
    source_addr_npi: int = Field(0, ge=0, le=18)
    # Destinations are numbers; with TON 1 a leading '+' is dropped on the wire and put back on
    # the sender of inbound messages, so replies match the contact plan's "+44…" addresses.
    dest_addr_ton: int = Field(1, ge=0, le=6)
    dest_addr_npi: int = Field(1, ge=0, le=18)
    # §5.2.17: 1 = a receipt on final delivery or failure; 2 = on failure only; 0 = none.
    # Only 1 lets the channel promise delivery confirmation to the engine.
    registered_delivery: Literal[0, 1, 2] = 1
    # "auto": GSM 03.38 when the text allows, else UCS2. "ucs2": always UCS2.
    encoding: Literal["auto", "ucs2"] = "auto"
    # Longest text accepted, in characters; longer texts were cut by the core before `send`.
    # Texts over one SMS go as UDH-concatenated parts (153 GSM / 67 UCS2 characters each).
    max_length: int = Field(612, ge=8, le=MAX_PARTS * UCS2_PART)
    # submit_sm PDUs outstanding without submit_sm_resp (agreed with the SMSC out of band).
    window: int = Field(10, ge=1, le=1000)
    # Idle time before an enquire_link, and how long its response may take before reconnecting.
    enquire_link_interval: float = Field(30.0, gt=0)
    enquire_link_timeout: float = Field(10.0, gt=0)
    connect_timeout: float = Field(10.0, gt=0)
    bind_timeout: float = Field(10.0, gt=0)
    # How long `send` waits for every part's submit_sm_resp (queueing, throttling and
    # reconnects included) before failing temporarily. Keep it under the engine's send_timeout.
    send_timeout: float = Field(20.0, gt=0)
    # How long entering the channel waits for the first bind (0: do not wait).
    start_wait: float = Field(5.0, ge=0)
    # Pause after ESME_RTHROTTLED / ESME_RMSGQFUL; doubles while they continue, up to the max.
    throttle_backoff: float = Field(1.0, gt=0)
    throttle_backoff_max: float = Field(16.0, gt=0)
    # Reconnect back-off: doubles from min to max, reset once bound.
    reconnect_min: float = Field(1.0, gt=0)
    reconnect_max: float = Field(60.0, gt=0)
    # How the SMSC prints ids in receipt text when no receipted_message_id TLV is sent:
    # "same" as submit_sm_resp, "hex" (decimal ids printed in hex), "dec" (hex ids in decimal).
    receipt_id: Literal["same", "hex", "dec"] = "same"

    @model_validator(mode="after")
    def _ordered(self) -> Options:
        if self.throttle_backoff_max < self.throttle_backoff:
            raise ValueError("throttle_backoff_max must be at least throttle_backoff")
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("reconnect_max must be at least reconnect_min")
        return self
