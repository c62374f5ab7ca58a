"""`callout demo`: the daemon on embedded defaults, simulated field devices, sample incidents
and a live narration of what happens to each, including a forced fault and its fallback."""

from __future__ import annotations

import asyncio
import itertools
from importlib import resources
from pathlib import Path
from typing import Any

from gateway import logs
from gateway.api import ApiServer
from gateway.app import Gateway
from gateway.bus import BusEvent
from gateway.daemon import serve
from gateway.domain.states import IncidentState
from gateway.settings import Settings, load_settings
from simulators.field_app import FieldApp

SAMPLES: list[dict[str, Any]] = [
    {
        "nature": "smoke from kitchen extract",
        "location": "Riverside Hotel, 12 Quay St",
        "category": "fire",
        "impact": 1,
        "urgency": 2,
        "caller_number": "+447700900555",
    },
    {
        "nature": "person collapsed in lobby",
        "location": "Central Library",
        "category": "medical",
        "impact": 1,
        "urgency": 1,
        "caller_number": "+447700900556",
    },
    {
        "nature": "lift stuck between floors, nobody inside",
        "location": "Block C",
        "category": "repair",
        "impact": 3,
        "urgency": 2,
        "caller_number": "+447700900557",
    },
    {
        "nature": "power lost to server room",
        "location": "HQ basement",
        "category": "power",
        "impact": 2,
        "urgency": 1,
        "caller_number": "+447700900558",
    },
]
# The forced fault: Engine 1's radio handset is offline (HTTP 404), so SMS must cover it; the
# ambulance's radio accepts but never answers, so its ack deadline moves it to SMS.
FAULTS = {"ENG1": "reject", "AMB1": "silent"}
# The demo channels' inbound secret, as in gateway/defaults/demo.toml (a demo, not a credential).
DEMO_SECRET = "demo-secret"  # noqa: S105
SHOWN = (
    "incident.",
    "delivery.",
    "attempt.sent",
    "attempt.failed",
    "attempt.closed",
    "unit.status",
    "channel.health",
)


def demo_settings(data_dir: Path | None, port: int, app_url: str) -> Settings:
    with resources.as_file(resources.files("gateway") / "defaults" / "demo.toml") as path:
        settings = load_settings(path)
    if data_dir is not None:
        settings.store.data_dir = data_dir
    settings.api.port = port
    for ch in settings.channels:
        ch.options["url"] = f"{app_url}/{ch.name}/{{address}}"
    return settings


def narrate(event: BusEvent) -> str | None:
    d = event.data
    k = event.kind
    if not k.startswith(SHOWN) or k in ("incident.updated",):
        return None
    ref = event.incident or ""
    if k == "incident.triaged":
        return f"{ref} triaged: {d['classification']} {d['priority']}; recommended " + (
            ", ".join(r["resource_id"] for r in d["recommendation"]) or "nobody"
        )
    if k.startswith("attempt."):
        what = k.split(".", 1)[1]
        extra = d.get("reason") or (d.get("evidence") or {}).get("error") or ""
        return (
            f"{ref}   {d.get('channel')}:{d.get('address')} {what}{' (' + str(extra) + ')' if extra else ''}"
        )
    if k.startswith("delivery."):
        who = d.get("recipient", "")
        return f"{ref}   delivery to {who}: {k.split('.', 1)[1]}" + (
            f" ({d['outcome']})" if d.get("outcome") else ""
        )
    if k == "unit.status":
        return f"{ref}   {d['resource']} is {d['status']}"
    if k == "channel.health":
        return f"channel {d['channel']} is {d['state']} {d.get('reason', '')}"
    return f"{ref} {k.split('.', 1)[1]}" + (
        f" by {d['actor']}" if d.get("actor", "system") != "system" else ""
    )


async def run_demo(*, port: int, data_dir: Path | None, incidents: int, interval: float) -> int:
    logs.configure("WARNING")
    ready = asyncio.Event()
    stop = asyncio.Event()
    held: dict[str, Any] = {}
    async with FieldApp(secret=DEMO_SECRET, behaviours=FAULTS, delay=1.0) as app:
        settings = demo_settings(data_dir, port, app.url)

        async def on_ready(gw: Gateway, api: ApiServer) -> None:
            app.callout = api.url
            held.update(gw=gw, api=api)
            print(f"callout demo: API on {api.url}/api/v1 (dispatcher token: demo-dispatcher-token-0000)")
            print(f"  store: {gw.store.url}; field devices simulated at {app.url}")
            print("  Ctrl-C stops it.", flush=True)
            ready.set()

        async def narrator() -> None:
            await ready.wait()
            sub = held["gw"].bus.subscribe(10_000)
            async for event in sub:
                line = narrate(event)
                if line:
                    print(line, flush=True)

        async def feeder() -> None:
            await ready.wait()
            gw: Gateway = held["gw"]
            made: list[str] = []
            for n, sample in zip(itertools.count(1), itertools.cycle(SAMPLES), strict=False):
                if incidents and n > incidents:
                    break
                inc = await gw.incidents.create(dict(sample), source="demo", actor="demo-desk")
                made.append(inc.reference)
                if inc.recommendation:
                    await gw.dispatch.dispatch(inc.reference, None, actor="demo-desk")
                await _close_finished(gw, made)
                await asyncio.sleep(interval)
            while incidents and made:  # a bounded demo waits for its incidents to finish
                await _close_finished(gw, made)
                await asyncio.sleep(0.5)
            stop.set()

        code = await serve(
            settings, extra={"demo.narrator": narrator, "demo.feeder": feeder}, on_ready=on_ready, stop=stop
        )
    print("callout demo finished.")
    return code


async def _close_finished(gw: Gateway, made: list[str]) -> None:
    """Resolve incidents whose units are on scene, close resolved ones, as a dispatcher would."""
    for ref in list(made):
        async with gw.store.read() as tx:
            inc = await tx.get_incident(ref)
        if inc.state is IncidentState.ON_SCENE:
            await gw.dispatch.resolve(ref, actor="demo-desk", note="crew reports all clear")
        elif inc.state in (IncidentState.RESOLVED, IncidentState.CANCELLED):
            await gw.dispatch.close(ref, actor="demo-supervisor", lessons="demo run")
            made.remove(ref)
        elif inc.state is IncidentState.TRIAGED and not inc.recommendation:
            await gw.dispatch.resolve(ref, actor="demo-desk", note="handled at the desk")
