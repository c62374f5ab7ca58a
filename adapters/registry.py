"""Channel kinds, chosen by the `kind` in config, imported lazily (docs/style.md practice 2), so a
missing optional dependency matters only when a channel of that kind is configured."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.base import Channel
from adapters.cti import CtiSource
from adapters.errors import ChannelUnavailable


@dataclass(frozen=True, slots=True)
class Kind:
    module: str  # module path; it must define `build(name, options, max_length) -> Channel`
    family: str  # channels of different families fail independently (radio, sms, pager, voice, data, email)
    hint: str = ""  # what to install when the import fails


# The serial channels open devices with pyserial-asyncio-fast (adapters/transport.py).
SERIAL_HINT = "pip install pyserial-asyncio-fast"
SIP_HINT = "install the sip extra: pip install 'callout[sip]'"
KINDS: dict[str, Kind] = {
    "webhook": Kind("adapters.webhook.channel", "data"),
    "mqtt_radio": Kind("adapters.radio_mqtt.channel", "radio", hint="pip install aiomqtt"),
    "kiss_radio": Kind("adapters.radio_kiss.channel", "radio", hint=SERIAL_HINT),
    "sms_modem": Kind("adapters.sms_modem.channel", "sms", hint=SERIAL_HINT),
    "smpp": Kind("adapters.smpp.channel", "sms"),
    "sms_http": Kind("adapters.sms_http.channel", "sms"),
    "tap": Kind("adapters.pager_tap.channel", "pager"),
    "snpp": Kind("adapters.pager_snpp.channel", "pager"),
    "email": Kind("adapters.email.channel", "email", hint="pip install aiosmtplib aiosmtpd"),
    # Workers run pjsua2 in their own processes; speech needs espeak-ng (checked at start).
    "voice": Kind("adapters.voice.channel", "voice", hint=SIP_HINT),
}
# CTI sources: their modules define `build(name, options) -> CtiSource`.
CTI_KINDS: dict[str, Kind] = {
    "sip": Kind("adapters.sip.channel", "cti", hint="install the sip extra: pip install 'callout[sip]'"),
    "ami": Kind("adapters.ami.channel", "cti"),
}
Factory = Callable[..., Channel]


def family(kind: str) -> str:
    return KINDS[kind].family if kind in KINDS else kind


def _module(kind: str, kinds: dict[str, Kind]) -> Any:
    if kind not in kinds:
        raise ChannelUnavailable(kind, f"unknown kind; known kinds: {', '.join(sorted(kinds))}")
    spec = kinds[kind]
    try:
        return importlib.import_module(spec.module)
    except ImportError as exc:
        raise ChannelUnavailable(kind, spec.hint or str(exc)) from exc


def factory(kind: str) -> Factory:
    build: Factory = _module(kind, KINDS).build
    return build


def cti_factory(kind: str) -> Callable[..., CtiSource]:
    build: Callable[..., CtiSource] = _module(kind, CTI_KINDS).build
    return build


def validate_options(kind: str, options: dict[str, Any], *, cti: bool = False) -> list[tuple[str, str]]:
    """Problems with a channel's (or CTI source's) options, as (key, reason), by the kind's own model."""
    from pydantic import ValidationError

    kinds = CTI_KINDS if cti else KINDS
    spec = kinds.get(kind)
    if spec is None:
        what = "CTI source" if cti else "channel"
        return [("kind", f"unknown {what} kind {kind!r}; known kinds: {', '.join(sorted(kinds))}")]
    try:
        module = importlib.import_module(spec.module.rsplit(".", 1)[0] + ".options")
    except ImportError as exc:
        return [("kind", f"channel kind {kind!r} is not available: {spec.hint or exc}")]
    try:
        module.Options(**options)
    except ValidationError as exc:
        return [
            (
                ".".join(str(p) for p in e["loc"]),
                "unknown key" if e["type"] == "extra_forbidden" else e["msg"],
            )
            for e in exc.errors()
        ]
    return []
