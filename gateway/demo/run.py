"""`callout demo`: the daemon on embedded defaults with every field device simulated in-process
(gateway/demo/rig.py), sample calls that become incidents (gateway/demo/desk.py), and a live
narration of what happens to each (gateway/demo/narration.py), including forced faults and the
fallbacks that cover them."""

from __future__ import annotations

import asyncio
import socket
from contextlib import AsyncExitStack
from importlib import resources
from pathlib import Path
from typing import Any

from gateway import logs
from gateway.api import ApiServer
from gateway.app import Gateway
from gateway.daemon import serve
from gateway.demo.desk import run_desk
from gateway.demo.narration import narrate
from gateway.demo.rig import Rig, start_rig
from gateway.errors import CalloutError
from gateway.settings import Settings, load_settings


def demo_settings(data_dir: Path | None, port: int) -> Settings:
    with resources.as_file(resources.files("gateway") / "defaults" / "demo.toml") as path:
        settings = load_settings(path)
    if data_dir is not None:
        settings.store.data_dir = data_dir
    settings.api.port = port
    return settings


def start_fresh(settings: Settings) -> list[Path]:
    """Remove the demo's SQLite file (and its WAL and shared-memory files) from earlier runs."""
    if settings.store.url:
        raise CalloutError("--fresh works on the demo's own SQLite file; store.url is set, so refusing")
    db = Path(settings.store.data_dir) / "callout.db"
    removed = []
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed


async def run_demo(
    *,
    port: int,
    data_dir: Path | None,
    incidents: int,
    interval: float,
    broker: str | None = None,
    fresh: bool = False,
) -> int:
    logs.configure("WARNING")
    settings = demo_settings(data_dir, port)
    if fresh:
        removed = start_fresh(settings)
        where = Path(settings.store.data_dir) / "callout.db"
        print(
            f"Starting fresh: {'removed ' + str(where) if removed else 'no earlier store at ' + str(where)}.",
            flush=True,
        )
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
            held["code"] = await run_desk(held["gw"], rig, incidents, interval)
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
    tokens = " · ".join(f"{t.role} {t.token}" for t in gw.settings.api.tokens if t.token)
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
