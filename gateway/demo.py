"""`callout demo`: the daemon on embedded defaults with every field device simulated in-process
(gateway/demo_rig.py), sample calls that become incidents, and a live narration of what happens
to each, including forced faults and the fallbacks that cover them."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from contextlib import AsyncExitStack
from importlib import resources
from pathlib import Path
from typing import Any

from gateway import logs
from gateway.api import ApiServer
from gateway.app import Gateway
from gateway.bus import BusEvent
from gateway.daemon import serve
from gateway.demo_rig import DESK, Rig, call_desk, start_rig
from gateway.domain.states import IncidentState
from gateway.errors import CalloutError
from gateway.settings import Settings, load_settings

log = logging.getLogger(__name__)
# What the callers say; the demo desk types it in once the call is answered.
SAMPLES: list[dict[str, Any]] = [
    {
        "caller_name": "Hotel reception",
        "nature": "smoke from kitchen extract",
        "location": "Riverside Hotel, 12 Quay St",
        "category": "fire",
        "impact": 1,
        "urgency": 2,
    },
    {
        "caller_name": "Library staff",
        "nature": "man not breathing, CPR in progress",
        "location": "Central Library lobby",
        "category": "medical",
        "impact": 1,
        "urgency": 1,
    },
    {
        "caller_name": "Block C caretaker",
        "nature": "lift stuck between floors, nobody inside",
        "location": "Block C",
        "category": "repair",
        "impact": 3,
        "urgency": 2,
    },
    {
        "caller_name": "Leisure centre",
        "nature": "fall on stairs, conscious, hip pain",
        "location": "Leisure centre, Mill Lane",
        "category": "medical",
        "impact": 2,
        "urgency": 1,
    },
    {
        "caller_name": "IT operations",
        "nature": "power lost to server room",
        "location": "HQ basement",
        "category": "power",
        "impact": 2,
        "urgency": 1,
    },
]
FORM = ("nature", "location", "category", "impact", "urgency")
CLOSE_REASONS = {
    "ack_timeout": "no ack in time: next endpoint",
    "one_way": "one-way: a pager cannot ack, so the ladder moves on",
    "acknowledged": "acknowledged elsewhere",
}
HIDDEN = ("attempt.pending", "attempt.sending", "attempt.resumed", "delivery.pending", "delivery.sending")
TRANSITIONAL = ("connecting", "calling", "starting", "opening")
DELIVERY_SHOWN = ("delivery.acknowledged", "delivery.duplicate_ack", "delivery.exhausted", "delivery.waiting")


def demo_settings(data_dir: Path | None, port: int) -> Settings:
    with resources.as_file(resources.files("gateway") / "defaults" / "demo.toml") as path:
        settings = load_settings(path)
    if data_dir is not None:
        settings.store.data_dir = data_dir
    settings.api.port = port
    return settings


def caller_number(n: int) -> str:
    """Sample caller n's number, from the range set aside for drama (+44 7700 900xxx)."""
    return f"+447700900{500 + n % 500:03d}"


def narrate(event: BusEvent) -> str | None:
    """One line for each event a newcomer should see; None for the rest."""
    d, k, ref = event.data, event.kind, event.incident or ""
    if k.startswith(HIDDEN):
        return None
    if k == "incident.created":
        if d.get("source") == "call":
            return f"{ref} created from a SIP call answered at the desk (caller {d.get('caller_number')})"
        return f"{ref} created by {_actor(event)} (source {d.get('source')})"
    if k == "incident.updated":
        if not set(FORM) & set(d.get("changed", [])):
            return None
        return (
            f"{ref} the desk takes the details: {d['nature']} at {d['location']} "
            f"({d['category']}, impact {d['impact']}, urgency {d['urgency']})"
        )
    if k == "incident.triaged":
        return f"{ref} triaged: {d['classification']} {d['priority']}; recommended " + (
            ", ".join(r["resource_id"] for r in d["recommendation"]) or "nobody"
        )
    if k == "delivery.created":
        what = str(d.get("purpose", "message")).replace("_", "-")
        return f"{ref}   {what} to {d['recipient']} ({d['mode']}): " + " → ".join(d["plan"])
    if k.startswith("delivery."):
        if not k.startswith(DELIVERY_SHOWN):
            return None
        return f"{ref}   delivery to {d.get('recipient', '')}: {k.split('.', 1)[1].replace('_', ' ')}"
    if k.startswith("attempt."):
        return _attempt(ref, k.split(".", 1)[1], d)
    if k == "unit.status":
        return f"{ref}   {d['resource']} is {d['status']}".lstrip()
    if k == "channel.health":
        reason = str(d.get("reason") or "")
        if d["state"] != "up" and (reason.startswith(TRANSITIONAL) or reason.endswith("start-up checks")):
            return None  # on its way up; the "up" (or a real failure) follows
        return f"channel {d['channel']} is {d['state']}" + (f": {reason}" if reason else "")
    if k == "call.ended":
        seconds = d.get("handling_seconds")
        return f"{ref} call ended" + (f" after {seconds:.1f} s" if seconds is not None else "")
    if k == "call.abandoned":
        return f"call abandoned before answer ({d.get('reason')})"
    if k == "incident.escalated":
        to = f" {d['group']}" if d.get("group") else ""
        return f"{ref} escalated to level {d['level']} (no ack after {d['after']:g} s): {d['action']}{to}"
    if k.startswith("incident.") and k != "incident.review_ready":
        return f"{ref} {k.split('.', 1)[1]} by {_actor(event)}"
    return None


def _actor(event: BusEvent) -> str:
    return str(event.data.get("actor") or "system")


def _attempt(ref: str, what: str, d: dict[str, Any]) -> str | None:
    where = f"{ref}   {d.get('channel')}:{d.get('address')}"
    if what == "closed":
        reason = str(d.get("reason") or "")
        if reason in ("acknowledged", "done"):
            return None
        return f"{where} closed ({CLOSE_REASONS.get(reason, reason)})"
    evidence = d.get("evidence") or {}
    if what == "acknowledged":
        said = evidence.get("text")
        how = f' ("{said}")' if said else " (radio ack)" if "topic" in evidence else ""
        return f"{where} acknowledged{how}"
    extra = d.get("reason") or evidence.get("error") or CLOSE_REASONS.get(str(d.get("closed")), "")
    return f"{where} {what}" + (f" ({extra})" if extra else "")


async def run_demo(
    *, port: int, data_dir: Path | None, incidents: int, interval: float, broker: str | None = None
) -> int:
    logs.configure("WARNING")
    settings = demo_settings(data_dir, port)
    _check_port(settings.api.host, port)
    ready, stop = asyncio.Event(), asyncio.Event()
    held: dict[str, Any] = {"code": 0}
    async with AsyncExitStack() as stack:
        rig = await start_rig(stack, settings, broker=broker)

        async def on_ready(gw: Gateway, api: ApiServer) -> None:
            rig.ready(api.url)
            held["gw"] = gw
            _welcome(gw, api, rig, incidents, interval)
            ready.set()

        async def narrator() -> None:
            await ready.wait()
            async for event in held["gw"].bus.subscribe(10_000):
                line = narrate(event)
                if line:
                    print(line, flush=True)

        async def desk() -> None:
            await ready.wait()
            held["code"] = await _desk(held["gw"], rig, incidents, interval)
            stop.set()

        jobs = {"demo.narrator": narrator, "demo.desk": desk, **rig.jobs}
        code = await serve(settings, extra=jobs, on_ready=on_ready, stop=stop)
    print("callout demo finished.", flush=True)
    return code or int(held["code"])


def _check_port(host: str, port: int) -> None:
    """Say so plainly when the API port is taken, before anything starts."""
    if port == 0:
        return
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is fine
        try:
            s.bind((host, port))
        except OSError as exc:
            raise CalloutError(f"demo: cannot serve on {host}:{port} ({exc.strerror}); try --port 0") from exc


def _welcome(gw: Gateway, api: ApiServer, rig: Rig, incidents: int, interval: float) -> None:
    tokens = " · ".join(f"{t.role} {t.token}" for t in gw.settings.api.tokens)
    lines = [
        f"callout demo: API on {api.url}/api/v1, desk console on {api.url}/",
        f"  tokens: {tokens}",
        f"  store: {gw.store.url}",
        *(f"  simulator: {what}" for what in rig.running),
        *(f"  left out: {what}" for what in rig.left_out),
        f"  {incidents or 'endless'} sample calls, one every {interval:g} s"
        + ("; Ctrl-C stops it." if not incidents else "."),
    ]
    print("\n".join(lines), flush=True)


async def _desk(gw: Gateway, rig: Rig, incidents: int, interval: float) -> int:
    """The demo's dispatcher: takes each call, types in what the caller says, dispatches the
    recommendation; resolves incidents once a unit is on scene and closes them. 0 when a bounded
    run saw every incident closed, 1 when it gave up waiting."""
    made: list[str] = []
    calls: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    async with asyncio.TaskGroup() as tg:
        for n, sample in zip(itertools.count(1), itertools.cycle(SAMPLES), strict=False):
            if incidents and n > incidents:
                break
            calls.append(tg.create_task(_take_call(gw, rig, n, sample, made), name=f"demo.call{n}"))
            await _close_finished(gw, made)
            await asyncio.sleep(interval)
        deadline = loop.time() + 60  # a bounded run never hangs: it says what did not finish
        while (made or not all(c.done() for c in calls)) and loop.time() < deadline:
            await _close_finished(gw, made)
            await asyncio.sleep(0.5)
    if made:
        print(f"callout demo: gave up waiting for {', '.join(made)}", flush=True)
        return 1
    return 0


async def _take_call(gw: Gateway, rig: Rig, n: int, sample: dict[str, Any], made: list[str]) -> None:
    """Sample caller n rings the desk (or, without SIP, the desk logs the incident itself); the
    desk types in what the caller says and dispatches the recommendation."""
    number = caller_number(n)
    call = None
    try:
        ref = None
        if rig.calls:
            since = gw.clock.now()
            port = getattr(gw.cti_sources.get("desk"), "local_port", None)
            uri = f"sip:{DESK}@127.0.0.1:{port}"
            call = asyncio.create_task(call_desk(uri, number, sample["caller_name"]), name=f"demo.sipp{n}")
            ref = await _incident_from(gw, number, since)
            if ref is None:
                print(f"callout demo: call {n} was not answered; the desk logs it directly", flush=True)
        if ref is None:
            fields = {"caller_number": number, "caller_name": sample["caller_name"]}
            ref = (await gw.incidents.create(fields, source="demo", actor="demo-desk")).reference
        inc = await gw.incidents.update(ref, {k: sample[k] for k in FORM}, actor="demo-desk")
        if inc.recommendation:
            await gw.dispatch.dispatch(ref, None, actor="demo-desk")
        made.append(ref)
        if call is not None:
            await call  # the caller hangs up after talking
    except CalloutError as exc:  # one call going wrong must not end the demo
        log.warning("demo desk: call %d: %s", n, exc)
    finally:
        if call is not None and not call.done():
            call.cancel()
            await asyncio.wait([call])


async def _incident_from(gw: Gateway, number: str, since: float, within: float = 10.0) -> str | None:
    """The incident the call from `number` created once the desk picked it up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        async with gw.store.read() as tx:
            found = await tx.incidents_by_caller(number, limit=1)
        if found and found[0].created_at >= since:
            return found[0].reference
        await asyncio.sleep(0.1)
    return None


async def _close_finished(gw: Gateway, made: list[str]) -> None:
    """Resolve incidents whose units are on scene, close resolved ones, as a dispatcher would."""
    for ref in list(made):
        async with gw.store.read() as tx:
            inc = await tx.get_incident(ref)
        try:
            if inc.state is IncidentState.ON_SCENE:
                await gw.stand_down.resolve(ref, actor="demo-desk", note="crew reports all clear")
            elif inc.state in (IncidentState.RESOLVED, IncidentState.CANCELLED):
                await gw.stand_down.close(ref, actor="demo-supervisor", lessons="demo run")
                made.remove(ref)
            elif inc.state is IncidentState.TRIAGED and not inc.recommendation:
                await gw.stand_down.resolve(ref, actor="demo-desk", note="handled at the desk")
        except CalloutError as exc:  # it moved on meanwhile: look again next time
            log.warning("demo desk: %s: %s", ref, exc)
