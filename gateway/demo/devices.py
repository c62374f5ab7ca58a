"""The demo's simulated field devices, one small function per device. Each starts its simulator
in the demo's AsyncExitStack and returns the `Part` it contributes (the channel options that point
the channel at the simulator, channels and endpoints it adds, crews that answer through it), or
raises `LeftOut` saying why it cannot run here. Channels and simulators talk over real sockets,
pseudo-terminals and an MQTT broker, exactly as with hardware.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import time
from contextlib import AsyncExitStack, suppress
from urllib.parse import urlsplit

from gateway.demo.parts import Crew, LeftOut, Part
from gateway.settings import ChannelConfig, CtiSourceConfig, EndpointConfig, Settings

BROKER_ENV = "CALLOUT_DEMO__BROKER"  # the MQTT broker the demo uses, over demo.toml's
DESK = "desk-1"
# The forced faults: Engine 1's phone app is offline (HTTP 404); Ambulance 1's radio takes
# messages (and says so) but nobody presses its ack button.
APP_FAULTS = {"ENG1": "reject"}
SILENT_RADIOS = ("AMB1",)
DEMO_TOWN = (51.5079, -0.0877)  # the Riverside Hotel in demo.toml's gazetteer; units report around it


def channel_of_kind(settings: Settings, kind: str) -> ChannelConfig:
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


async def field_app(stack: AsyncExitStack, settings: Settings) -> Part:
    from simulators.field_app import FieldApp

    ch = channel_of_kind(settings, "webhook")
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
    ch = channel_of_kind(settings, "mqtt_radio")
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

    async def gps() -> None:
        """Each radio reports a GPS fix every 20 s, somewhere around the demo's town."""
        while True:
            for i, rid in enumerate(fleet.radios):
                lat, lon = DEMO_TOWN
                fleet.send_position(rid, lat + 0.004 * (i + 1), lon - 0.006 * i, time.time())
            await asyncio.sleep(20)

    return Part(
        f"radio fleet {', '.join(fleet.radios)} ({silent}) on {where}, GPS every 20 s",
        options={ch.name: {"broker": url, "client_id": run}},
        jobs={"demo.gps.radio": gps},
    )


async def kiss_tnc(stack: AsyncExitStack, settings: Settings) -> Part:
    from simulators.kiss_tnc import KissTnc, Station

    ch = channel_of_kind(settings, "kiss_radio")
    me = str(ch.options["callsign"])
    calls = addresses(settings, ch.name)
    lat, lon = DEMO_TOWN  # the stations beacon their APRS position every 30 s
    stations = [
        Station(c, ack_delay=0.3, lat=lat - 0.003 * (i + 1), lon=lon + 0.004 * i, beacon_interval=30)
        for i, c in enumerate(calls)
    ]
    tnc = await stack.enter_async_context(KissTnc(stations, pty=True))

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

    ch = channel_of_kind(settings, "smpp")
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

    ch = channel_of_kind(settings, "sms_http")
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

    ch = channel_of_kind(settings, "tap")
    baud = int(ch.options.get("baudrate", 9600))
    term = await stack.enter_async_context(TapTerminal(pty=True, baud=baud))
    return Part(
        f"TAP paging terminal on {term.device} ({baud} baud)", options={ch.name: {"device": term.device}}
    )


async def snpp_server(stack: AsyncExitStack, settings: Settings) -> Part:
    from simulators.snpp_server import SnppServer

    ch = channel_of_kind(settings, "snpp")
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
