"""The demo's simulated field: one small function per device. Each starts its simulator in the
demo's AsyncExitStack and returns the `Part` it contributes (the channel options that point the
channel at the simulator, channels and endpoints it adds, crews that answer through it), or
raises `LeftOut` saying why it cannot run here. Channels and simulators talk over real sockets,
pseudo-terminals and an MQTT broker, exactly as with hardware.

`start_rig` runs them all and folds the parts into the settings loaded from demo.toml; a channel
whose device was left out is removed with the endpoints on it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import re
import shutil
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gateway.settings import ChannelConfig, CtiSourceConfig, EndpointConfig, Settings

log = logging.getLogger(__name__)

Job = Callable[[], Coroutine[Any, Any, None]]
BROKER_ENV = "CALLOUT_DEMO__BROKER"  # the MQTT broker the demo uses, over demo.toml's
DESK = "desk-1"
# The forced faults: Engine 1's phone app is offline (HTTP 404); Ambulance 1's radio takes
# messages (and says so) but nobody presses its ack button.
APP_FAULTS = {"ENG1": "reject"}
SILENT_RADIOS = ("AMB1",)
# How a crew answers a dispatch on a text device: (reply, seconds after the previous step). The
# reply quotes the incident's serial, as the dispatch asks ("Reply ACK 42"); CLEAR, which may come
# after the incident is closed, names it in full (a bare serial only finds open incidents).
CREW_WALK = (("ACK {serial}", 1.0), ("ON SCENE {serial}", 2.5), ("CLEAR {ref}", 2.0))
# A dispatch names its incident and priority first ("INC-2026-000042 P2 FIRE: …"); stand-downs
# and escalations are not answered. Searched, not matched: a split message starts "1/2 ".
DISPATCH = re.compile(r"\b(INC-\d{4}-0*(\d+)) P[1-4] (?!ESCALATION)")


class LeftOut(Exception):
    """A device that cannot run here: what it is, why, and the channels that go with it."""

    def __init__(self, device: str, why: str, channels: Iterable[str] = ()) -> None:
        super().__init__(f"{device}: {why}")
        self.device, self.why, self.channels = device, why, tuple(channels)


@dataclass
class Part:
    """What one simulated device adds to the demo."""

    label: str  # for the status line
    options: dict[str, dict[str, Any]] = field(default_factory=dict)  # channel -> options it sets
    channels: list[ChannelConfig] = field(default_factory=list)  # channels it adds
    endpoints: dict[str, list[EndpointConfig]] = field(default_factory=dict)  # resource id -> added
    sources: list[CtiSourceConfig] = field(default_factory=list)  # CTI sources it adds
    jobs: dict[str, Job] = field(default_factory=dict)  # run with the daemon (crews)
    on_ready: Callable[[str], None] | None = None  # given callout's base URL once the API is up


@dataclass
class Crew:
    """The people behind simulated handsets and radios that answer in text: every dispatch that
    reaches an address is answered through the same device (CREW_WALK), naming its incident so
    that a reply never lands on another incident of the same unit."""

    name: str
    inbox: Callable[[], Iterable[tuple[str, str]]]  # (address, text) of everything received
    reply: Callable[[str, str], Awaitable[None]]  # (address, text) sent back from that address
    answered: set[tuple[str, str]] = field(default_factory=set)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            while True:
                for address, text in list(self.inbox()):
                    found = DISPATCH.search(text)
                    if found and (address, found[1]) not in self.answered:
                        self.answered.add((address, found[1]))
                        walk = self._walk(address, found[1], found[2])
                        tg.create_task(walk, name=f"{self.name}.{address}")
                await asyncio.sleep(0.2)

    async def _walk(self, address: str, ref: str, serial: str) -> None:
        for words, after in CREW_WALK:
            await asyncio.sleep(after)
            text = words.format(ref=ref, serial=serial)
            try:
                await self.reply(address, text)
            except Exception:  # a crew that cannot answer must not stop the demo
                log.warning("%s: could not send %r from %s", self.name, text, address, exc_info=True)


# ---- helpers --------------------------------------------------------------------------------------
def _mine(settings: Settings, kind: str) -> ChannelConfig:
    """The demo's one channel of this kind."""
    for c in settings.channels:
        if c.kind == kind:
            return c
    raise LeftOut(f"the {kind} simulator", f"demo.toml has no {kind} channel")


def addresses(settings: Settings, channel: str) -> list[str]:
    """Every address on a channel, in the order of the resources and stakeholders."""
    plans = [r.contact_plan for r in settings.resources] + [s.contact_plan for s in settings.stakeholders]
    seen = [e.address for plan in plans for e in plan if e.channel == channel]
    return list(dict.fromkeys(seen))


async def _answers(url: str) -> bool:
    """True when something accepts a TCP connection at the broker URL's host and port."""
    parts = urlsplit(url)
    port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    try:
        async with asyncio.timeout(1.0):
            _, writer = await asyncio.open_connection(parts.hostname or "127.0.0.1", port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with suppress(OSError):
        await writer.wait_closed()
    return True


# ---- one function per device ----------------------------------------------------------------------
async def field_app(stack: AsyncExitStack, settings: Settings) -> Part:
    from simulators.field_app import FieldApp

    ch = _mine(settings, "webhook")
    app = await stack.enter_async_context(
        FieldApp(secret=ch.options.get("inbound_secret", ""), behaviours=dict(APP_FAULTS), delay=1.0)
    )

    def ready(callout: str) -> None:
        app.callout = callout

    offline = ", ".join(f"{a} offline" for a in APP_FAULTS)
    return Part(
        f"crew phone app on {app.url} ({offline})",
        options={ch.name: {"url": f"{app.url}/{ch.name}/{{address}}"}},
        on_ready=ready,
    )


async def radio_fleet(stack: AsyncExitStack, settings: Settings, broker: str | None = None) -> Part:
    ch = _mine(settings, "mqtt_radio")
    device = "MQTT radio fleet"
    try:
        from simulators.radio_fleet.broker import BrokerError, PrivateBroker
        from simulators.radio_fleet.fleet import Faults, RadioFleet
    except ImportError as exc:
        raise LeftOut(device, f"{exc} (pip install aiomqtt)", [ch.name]) from exc
    url = broker or os.environ.get(BROKER_ENV) or str(ch.options.get("broker", "mqtt://127.0.0.1:1883"))
    where = f"the broker at {url}"
    if not await _answers(url):
        try:
            private = await stack.enter_async_context(PrivateBroker(persistence=False))
        except BrokerError as exc:
            raise LeftOut(device, f"no MQTT broker answers at {url} and {exc}", [ch.name]) from exc
        where = f"a private mosquitto at {private.url}; nothing answered at {url}"
        url = private.url
    run = f"callout-demo-{os.getpid()}"  # a shared broker keeps sessions: one id per run
    fleet = RadioFleet(
        broker=url,
        radios=addresses(settings, ch.name),
        prefix=str(ch.options.get("prefix", "callout")),
        name=f"{run}-fleet",
        ack_delay=1.0,
        walk_delay=1.5,
        radio_faults={r: Faults(never_ack=True) for r in SILENT_RADIOS},
        session_expiry=60,
    )
    try:
        await stack.enter_async_context(fleet)
    except (ConnectionError, ValueError) as exc:
        raise LeftOut(device, str(exc), [ch.name]) from exc
    silent = ", ".join(f"{r} never acks" for r in SILENT_RADIOS)
    return Part(
        f"radio fleet {', '.join(fleet.radios)} ({silent}) on {where}",
        options={ch.name: {"broker": url, "client_id": run}},
    )


async def kiss_tnc(stack: AsyncExitStack, settings: Settings) -> Part:
    from simulators.kiss_tnc import KissTnc, Station

    ch = _mine(settings, "kiss_radio")
    me = str(ch.options["callsign"])
    calls = addresses(settings, ch.name)
    tnc = await stack.enter_async_context(KissTnc([Station(c, ack_delay=0.3) for c in calls], pty=True))

    def inbox() -> list[tuple[str, str]]:
        return [(s.callsign, h.text) for s in tnc.stations.values() for h in s.messages()]

    async def reply(callsign: str, text: str) -> None:
        tnc.say(callsign, text, me)

    crew = Crew("crew.aprs", inbox, reply)
    return Part(
        f"APRS stations {', '.join(calls)} behind a KISS TNC on {tnc.device}",
        options={ch.name: {"device": tnc.device}},
        jobs={"demo.crew.aprs": crew.run},
    )


async def smsc(stack: AsyncExitStack, settings: Settings) -> Part:
    from simulators.smsc import Smsc

    ch = _mine(settings, "smpp")
    account = {str(ch.options["system_id"]): str(ch.options.get("password", ""))}
    sim = await stack.enter_async_context(Smsc(accounts=account, receipt_delay=0.3))
    sender = str(ch.options.get("source_addr", ""))

    async def reply(number: str, text: str) -> None:
        sim.inject_mo(number, text, destination=sender)

    crew = Crew("crew.sms", lambda: list(sim.texts), reply)
    return Part(
        f"SMPP SMSC on 127.0.0.1:{sim.port}",
        options={ch.name: {"host": "127.0.0.1", "port": sim.port}},
        jobs={"demo.crew.sms": crew.run},
    )


async def sms_provider(stack: AsyncExitStack, settings: Settings) -> Part:
    from simulators.sms_http_provider import SmsProvider

    ch = _mine(settings, "sms_http")
    provider = await stack.enter_async_context(
        SmsProvider(
            token=str(ch.options.get("auth_value", "")).removeprefix("Bearer "),
            secret=str(ch.options.get("signature_secret", "")),
            receipt_delay=0.3,
        )
    )

    def ready(callout: str) -> None:
        provider.callback = f"{callout}/api/v1/channels/{ch.name}/callback"

    async def reply(number: str, text: str) -> None:
        await provider.inject_inbound(number, text)

    crew = Crew("crew.sms-web", lambda: [(r.to, r.text) for r in provider.received if r.status == 200], reply)
    return Part(
        f"HTTP SMS provider on {provider.url}",
        options={ch.name: {"url": provider.url}},
        jobs={"demo.crew.sms-web": crew.run},
        on_ready=ready,
    )


async def tap_terminal(stack: AsyncExitStack, settings: Settings) -> Part:
    from simulators.tap_terminal import TapTerminal

    ch = _mine(settings, "tap")
    baud = int(ch.options.get("baudrate", 9600))
    term = await stack.enter_async_context(TapTerminal(pty=True, baud=baud))
    return Part(
        f"TAP paging terminal on {term.device} ({baud} baud)", options={ch.name: {"device": term.device}}
    )


async def snpp_server(stack: AsyncExitStack, settings: Settings) -> Part:
    from simulators.snpp_server import SnppServer

    ch = _mine(settings, "snpp")
    srv = await stack.enter_async_context(SnppServer())
    return Part(
        f"SNPP server on 127.0.0.1:{srv.port}", options={ch.name: {"host": "127.0.0.1", "port": srv.port}}
    )


async def gsm_modem(stack: AsyncExitStack, settings: Settings) -> Part:
    """A GSM modem on a pseudo-terminal carrying Engine 2's texts, when callout has the channel."""
    from adapters.registry import KINDS

    device = "GSM modem"
    if "sms_modem" not in KINDS:
        raise LeftOut(device, "the sms_modem channel kind is not registered in adapters/registry.py")
    if importlib.util.find_spec("simulators.gsm_modem") is None:
        raise LeftOut(device, "its simulator (simulators/gsm_modem) is missing")
    from simulators.gsm_modem import GsmModem

    pin = "1234"
    modem = await stack.enter_async_context(GsmModem(pty=True, pin=pin))

    async def reply(number: str, text: str) -> None:
        modem.deliver(number, text)

    crew = Crew("crew.gsm", lambda: [(r.destination, r.text) for r in modem.received], reply)
    gsm = ChannelConfig(
        name="gsm",
        kind="sms_modem",
        options={
            "modems": [{"name": "modem1", "device": modem.device, "pin": pin}],
            "poll_interval": 10.0,
            "start_timeout": 5.0,
        },
    )
    return Part(
        f"GSM modem on {modem.device}",
        channels=[gsm],
        endpoints={"ENG-2": [EndpointConfig(channel="gsm", address="+447700900102")]},
        jobs={"demo.crew.gsm": crew.run},
    )


def sip_desk() -> Part:
    """callout answers calls as the desk's SIP endpoint (pjsua2); sipp plays the callers."""
    missing = []
    if importlib.util.find_spec("pjsua2") is None:
        missing.append("pjsua2 is not installed (pip install 'callout[sip]')")
    if shutil.which("sipp") is None:
        missing.append("sipp is not installed (apt-get install sip-tester)")
    if missing:
        raise LeftOut("SIP calls", "; ".join(missing) + "; incidents are created directly instead")
    desk = CtiSourceConfig(
        name="desk",
        kind="sip",
        options={"bind_address": "127.0.0.1", "port": 0, "desk": DESK, "answer_delay_ms": 1000},
    )
    return Part("sipp callers ringing the SIP desk endpoint (pjsua2, answers after 1 s)", sources=[desk])


async def call_desk(uri: str, number: str, name: str, *, talk: float = 2.0) -> int:
    """One caller rings the desk and talks for `talk` seconds after the answer; sipp's exit code."""
    from simulators.sip_calls import Caller, SippCalls

    async with SippCalls(to=uri, callers=[Caller(number, name)], hold_ms=int(talk * 1000)) as sipp:
        return await sipp.wait()


# ---- the rig --------------------------------------------------------------------------------------
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
