"""The demo's rig: `start_rig` starts every device in gateway/demo/devices.py and folds the
parts into the settings loaded from demo.toml; a channel whose device was left out is removed
with the endpoints on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from gateway.demo.devices import (
    field_app,
    gsm_modem,
    kiss_tnc,
    radio_fleet,
    sip_desk,
    sms_provider,
    smsc,
    snpp_server,
    tap_terminal,
)
from gateway.demo.parts import Job, LeftOut, Part
from gateway.settings import ChannelConfig, Settings


@dataclass
class Rig:
    settings: Settings
    running: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)
    calls: bool = False  # incidents start from SIP calls
    _ready: list[Callable[[str], None]] = field(default_factory=list)

    def ready(self, callout: str) -> None:
        """callout's API is up at this base URL: devices that call back learn where."""
        for hook in self._ready:
            hook(callout)

    def add(self, part: Part) -> None:
        self.running.append(part.label)
        for name, options in part.options.items():
            _mine_by_name(self.settings, name).options.update(options)
        self.settings.channels.extend(part.channels)
        for rid, endpoints in part.endpoints.items():
            for r in self.settings.resources:
                if r.id == rid:
                    r.contact_plan.extend(endpoints)
        self.settings.cti.sources.extend(part.sources)
        self.jobs.update(part.jobs)
        if part.on_ready is not None:
            self._ready.append(part.on_ready)

    def leave_out(self, exc: LeftOut) -> None:
        self.left_out.append(f"{exc.device} ({exc.why})")
        drop = set(exc.channels)
        if not drop:
            return
        s = self.settings
        s.channels = [c for c in s.channels if c.name not in drop]
        for r in s.resources:
            r.contact_plan = [e for e in r.contact_plan if e.channel not in drop]
        for st in s.stakeholders:
            st.contact_plan = [e for e in st.contact_plan if e.channel not in drop]
        s.resources = [r for r in s.resources if r.contact_plan]
        s.stakeholders = [st for st in s.stakeholders if st.contact_plan]


def _mine_by_name(settings: Settings, name: str) -> ChannelConfig:
    return next(c for c in settings.channels if c.name == name)


async def start_rig(stack: AsyncExitStack, settings: Settings, *, broker: str | None = None) -> Rig:
    """Start every simulator the demo's settings have a channel for, plus the SIP callers."""
    rig = Rig(settings)

    async def fleet(stack: AsyncExitStack, settings: Settings) -> Part:
        return await radio_fleet(stack, settings, broker)

    devices: list[tuple[str, str, Callable[[AsyncExitStack, Settings], Awaitable[Part]]]] = [
        ("crew phone app", "webhook", field_app),
        ("MQTT radio fleet", "mqtt_radio", fleet),
        ("KISS TNC", "kiss_radio", kiss_tnc),
        ("SMPP SMSC", "smpp", smsc),
        ("HTTP SMS provider", "sms_http", sms_provider),
        ("TAP paging terminal", "tap", tap_terminal),
        ("SNPP server", "snpp", snpp_server),
        ("GSM modem", "sms_modem", gsm_modem),
    ]
    for device, kind, start in devices:
        try:
            rig.add(await start(stack, settings))
        except LeftOut as exc:
            rig.leave_out(exc)
        except OSError as exc:  # no pseudo-terminals, no free port: run without it
            mine = [c.name for c in settings.channels if c.kind == kind]
            rig.leave_out(LeftOut(device, f"could not start: {exc}", mine))
    try:
        rig.add(sip_desk())
        rig.calls = True
    except LeftOut as exc:
        rig.leave_out(exc)
    return rig
