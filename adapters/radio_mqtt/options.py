"""Options of an `mqtt_radio` channel (package `adapters.radio_mqtt`)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from adapters.radio_mqtt.codec import check_prefix

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}  # IANA registered ports for MQTT and MQTT over TLS


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # mqtt://host:port, or mqtts://host:port for TLS (the port defaults to 1883 / 8883).
    broker: str = "mqtt://127.0.0.1:1883"
    prefix: str = "callout"
    # Stable client id: the broker keeps this session (subscriptions, queued uplinks) while we are
    # away. Empty: "callout-<hostname>-<channel name>". Two daemons must not share one (the broker
    # would hand the session back and forth, MQTT 5 §3.1.4). Brokers must accept 23 characters
    # and may accept more (§3.1.3.1); mosquitto accepts long ids.
    client_id: str = Field("", max_length=128)
    username: str | None = None
    password: SecretStr | None = None
    # TLS (mqtts://): CA bundle to trust (empty: the system's), client certificate and key.
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_insecure: bool = False  # do not check the broker's host name (test brokers only)
    keepalive: int = Field(30, ge=5, le=65535)  # seconds (MQTT 5 §3.1.2.10)
    session_expiry: int = Field(86400, ge=1)  # seconds the broker keeps our session (§3.1.2.11.2)
    # Seconds the broker keeps a downlink for an absent radio before dropping it (§3.3.2.3.3);
    # 0: no expiry. A dispatch delivered an hour late does more harm than good.
    message_expiry: int = Field(900, ge=0)
    connect_timeout: float = Field(5.0, gt=0)
    publish_timeout: float = Field(5.0, gt=0)  # waiting for the PUBACK (§3.4)
    reconnect_min: float = Field(0.5, gt=0)
    reconnect_max: float = Field(30.0, gt=0)
    max_inflight: int = Field(100, ge=1)  # QoS 1 publishes awaiting PUBACK at once
    # MQTT 5 shared subscription group for uplinks (§4.8.2): several callout nodes share the
    # work, each uplink reaches one of them. Empty: every node gets every uplink.
    shared_group: str = Field("", pattern=r"^[A-Za-z0-9_.-]*$")
    # Seconds a send to a radio waits, after a reconnect, for its retained presence to be read
    # again before failing temporarily (docs/protocols/mqtt-radio.md, "Presence").
    presence_wait: float = Field(1.0, ge=0)
    receipts: bool = True  # radios send "delivered" receipts (capability confirms_delivery)
    dedupe_window: int = Field(100_000, ge=100)  # uplink keys remembered to drop redeliveries
    max_length: int = Field(500, ge=8)

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, v: str) -> str:
        url = urlsplit(v)
        if url.scheme not in DEFAULT_PORTS or not url.hostname:
            raise ValueError("must be mqtt://host[:port] or mqtts://host[:port]")
        try:
            _ = url.port
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        if url.path not in ("", "/") or url.query or url.username:
            raise ValueError("give only scheme, host and port (credentials go in username/password)")
        return v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        return check_prefix(v)

    @model_validator(mode="after")
    def _tls_files_need_tls(self) -> Options:
        if not self.tls and (self.ca_file or self.cert_file or self.key_file or self.tls_insecure):
            raise ValueError("TLS options are set but the broker URL is not mqtts://")
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("cert_file and key_file go together")
        return self

    @property
    def host(self) -> str:
        return urlsplit(self.broker).hostname or ""

    @property
    def tls(self) -> bool:
        return urlsplit(self.broker).scheme == "mqtts"

    @property
    def port(self) -> int:
        url = urlsplit(self.broker)
        return url.port or DEFAULT_PORTS[url.scheme]

    def identifier(self, channel: str) -> str:
        return self.client_id or f"callout-{socket.gethostname()}-{channel}"[:128]
