"""End to end: the daemon as a real process, driven through its HTTP API, radios acking over MQTT.

    python -m benchmarks.e2e_bench [--store sqlite|postgres|both] [--resources 100,1000,5000]
                                   [--incidents 600] [--clients 16] [--paced-rate 50]
                                   [--paced-resources 2000] [--paced-seconds 20]
                                   [--bulk 1000] [--contention-seconds 60] [--quick]

Prints figures; asserts nothing. Each scenario starts, on this machine only:
- a private mosquitto (persistence off) on a free port;
- `callout run` as a subprocess with one `mqtt_radio` channel and N resources, one radio each
  (SQLite in WAL mode in a temporary folder, or a private PostgreSQL database on the server named by
  CALLOUT_TEST_PG_URL);
- `callout simulate radio-fleet --count N --ack-delay 0 --no-walk` as a subprocess (every radio acks
  at once);
- in this process: an HTTP load generator (aiohttp, a bounded number of clients), a WebSocket
  client on `/api/v1/events` (when an ack is *recorded*: the daemon publishes bus events after
  the commit) and an MQTT subscriber on the downlink topics (when a message reaches the radios'
  broker).

Scenarios:
- throughput: --incidents incidents, each created (triaged at once) and dispatched to the
  recommended unit by one of --clients clients as fast as the daemon answers; per store and per
  resource count. Prints incidents/s, deliveries/s, dispatch -> message at the radio and dispatch
  -> ack recorded (p50/p99), daemon CPU ms per incident;
- paced: --paced-rate incidents/s for --paced-seconds at --paced-resources resources;
  dispatch -> ack recorded p50/p99;
- bulk: one callout request to --bulk radios (`POST /api/v1/incidents/{ref}/callout`); deliveries
  sent per second and the time from the last send to the last ack recorded;
- contention (PostgreSQL): 8 clients dispatching overlapping sets of units for
  --contention-seconds; counts of 2xx, 4xx and 5xx answers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from simulators.radio_fleet import PrivateBroker
from tests.support.daemon import wait_for_url

TICK = os.sysconf("SC_CLK_TCK")
TOKEN = "bench-dispatcher-token-000000"
PREFIX = "bench"
PG_ADMIN = os.environ.get("CALLOUT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
FIELDS = {"nature": "bench", "location": "Depot", "category": "fire", "impact": 2, "urgency": 3}


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process so far (proc(5), fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- the site ------------------------------------------------------------------------------------
def site_toml(*, resources: int, broker: str, store_url: str, data_dir: Path, port: int) -> str:
    head = f"""
[api]
host = "127.0.0.1"
port = {port}
ws_queue = 200000
tokens = [{{ name = "bench", role = "dispatcher", token = "{TOKEN}" }}]

[store]
url = "{store_url}"
data_dir = "{data_dir}"

[logging]
level = "INFO"

[triage]
rules = [{{ category = "fire", classification = "incident", capabilities = ["engine"] }}]

[[channels]]
name = "radio"
kind = "mqtt_radio"
options = {{ broker = "{broker}", prefix = "{PREFIX}", session_expiry = 300, message_expiry = 120 }}
"""
    units = "".join(
        f'\n[[resources]]\nid = "U{i}"\ncapabilities = ["engine"]\n'
        f'contact_plan = [{{ channel = "radio", address = "R{i}" }}]\n'
        for i in range(1, resources + 1)
    )
    return head + units


@contextlib.asynccontextmanager
async def private_pg() -> AsyncIterator[str]:
    import asyncpg

    name = f"callout_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@dataclass
class Rig:
    url: str
    daemon: subprocess.Popen[str]
    fleet: subprocess.Popen[str]
    broker: str
    ack_at: dict[str, float] = field(default_factory=dict)  # incident ref -> first ack recorded
    acks: int = 0
    at_radio: dict[str, float] = field(default_factory=dict)  # incident ref -> first downlink seen
    downlinks: int = 0
    sent_at: list[float] = field(default_factory=list)  # attempt.sent events (bulk)


def _drain(stream: Any) -> None:
    """Keep a child's pipe from filling up (its output is not needed once it is up)."""
    import threading

    def pump() -> None:
        for _ in stream:
            pass

    threading.Thread(target=pump, daemon=True).start()


@contextlib.asynccontextmanager
async def rig(*, resources: int, store: str) -> AsyncIterator[Rig]:
    async with contextlib.AsyncExitStack() as stack:
        broker = await stack.enter_async_context(PrivateBroker(persistence=False))
        store_url = await stack.enter_async_context(private_pg()) if store == "postgres" else ""
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="callout-e2e-")))
        cfg = tmp / "site.toml"
        cfg.write_text(
            site_toml(resources=resources, broker=broker.url, store_url=store_url, data_dir=tmp, port=0)
        )
        fleet = _spawn(
            [
                sys.executable, "-m", "gateway.cli", "simulate", "radio-fleet",
                "--broker", broker.url, "--count", str(resources), "--prefix", PREFIX,
                "--ack-delay", "0", "--no-walk", "--quiet",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        stack.callback(_stop, fleet)
        assert fleet.stdout is not None
        line = await asyncio.to_thread(fleet.stdout.readline)
        if "radio fleet" not in line:
            raise RuntimeError(f"radio fleet did not start: {line}")
        _drain(fleet.stdout)
        profile = os.environ.get("CALLOUT_BENCH_PROFILE")  # a path: the daemon runs under cProfile
        prefix = ["-m", "cProfile", "-o", profile] if profile else []
        daemon = _spawn(
            [sys.executable, *prefix, "-m", "gateway.cli", "run", "-c", str(cfg)],
            env={**os.environ, "CALLOUT_API__PORT": "0"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        stack.callback(_stop, daemon)
        url = (await asyncio.to_thread(wait_for_url, daemon, 300)).removesuffix("/") + "/api/v1"
        _drain(daemon.stderr)
        r = Rig(url=url, daemon=daemon, fleet=fleet, broker=broker.url)
        session = await stack.enter_async_context(
            aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {TOKEN}"},
                connector=aiohttp.TCPConnector(limit=64),
            )
        )
        await _until_ready(session, url)
        spy = os.environ.get("CALLOUT_BENCH_PYSPY")  # a path: py-spy samples the daemon until the end
        if spy:
            sampler = _spawn(["py-spy", "record", "-p", str(daemon.pid), "-r", "250", "-f", "raw", "-o", spy],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            stack.callback(_interrupt, sampler)
        watchers = [
            asyncio.create_task(_watch_events(session, r), name="bench.ws"),
            asyncio.create_task(_watch_downlinks(r), name="bench.mqtt"),
        ]
        await asyncio.sleep(1.0)  # both watchers subscribed, the channel has seen the fleet's presence
        try:
            yield r
        finally:
            for t in watchers:
                t.cancel()
            for t in watchers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t


def _spawn(cmd: list[str], **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, text=True, **kw)


def _interrupt(proc: subprocess.Popen[str]) -> None:
    """py-spy writes its samples when interrupted."""
    proc.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _until_ready(session: aiohttp.ClientSession, url: str) -> None:
    base = url.removesuffix("/api/v1")
    for _ in range(600):
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{base}/readyz") as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError("daemon never became ready")


async def _watch_events(session: aiohttp.ClientSession, r: Rig) -> None:
    async with session.ws_connect(f"{r.url}/events", max_msg_size=0) as ws:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            ev = json.loads(msg.data)
            kind = ev.get("kind")
            if kind == "delivery.acknowledged":
                r.acks += 1
                r.ack_at.setdefault(ev.get("incident") or "", time.monotonic())
            elif kind == "attempt.sent":
                r.sent_at.append(time.monotonic())


async def _watch_downlinks(r: Rig) -> None:
    import aiomqtt

    host, port = r.broker.removeprefix("mqtt://").split(":")
    async with aiomqtt.Client(host, int(port), identifier=f"bench-{uuid.uuid4().hex[:6]}") as client:
        await client.subscribe(f"{PREFIX}/+/+/down", qos=0)
        async for message in client.messages:
            r.downlinks += 1
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                doc = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                r.at_radio.setdefault(doc["incident"], time.monotonic())


# ---- the load ------------------------------------------------------------------------------------
@dataclass
class Load:
    dispatched_at: dict[str, float] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


async def _post(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], load: Load
) -> dict[str, Any] | None:
    for _ in range(3):
        try:
            async with session.post(url, json=body) as resp:
                load.statuses[resp.status] = load.statuses.get(resp.status, 0) + 1
                data = await resp.json(content_type=None)
                if resp.status < 300:
                    return dict(data)
                if len(load.errors) < 5:
                    load.errors.append(f"{resp.status} {json.dumps(data)[:200]}")
                if resp.status == 503:
                    await asyncio.sleep(float(resp.headers.get("Retry-After", "0.2")))
                    continue
                return None
        except aiohttp.ClientError as exc:
            load.errors.append(repr(exc))
            return None
    return None


async def one_incident(session: aiohttp.ClientSession, url: str, load: Load) -> None:
    created = await _post(session, f"{url}/incidents", FIELDS, load)
    if created is None:
        return
    ref = created["reference"]
    t0 = time.monotonic()
    if await _post(session, f"{url}/incidents/{ref}/dispatch", {"resources": "recommended"}, load):
        load.dispatched_at[ref] = t0


async def settle(r: Rig, refs: list[str], within: float) -> None:
    """Wait (polling: the watchers fill plain dicts) until every ref has its ack, or `within` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(ref not in r.ack_at for ref in refs):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def latencies(load: Load, seen: dict[str, float]) -> list[float]:
    return [(seen[ref] - t0) * 1000 for ref, t0 in load.dispatched_at.items() if ref in seen]


def fmt(ms: list[float]) -> str:
    return f"{pct(ms, 50):8.1f} / {pct(ms, 99):8.1f}"


async def throughput(store: str, resources: int, incidents: int, clients: int) -> str:
    async with rig(resources=resources, store=store) as r:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            warm = Load()
            await asyncio.gather(*(one_incident(session, r.url, warm) for _ in range(10)))
            await settle(r, list(warm.dispatched_at), 10)
            load = Load()
            queue = list(range(incidents))
            cpu0, t0 = cpu_of(r.daemon.pid), time.monotonic()

            async def client() -> None:
                while queue:
                    queue.pop()
                    await one_incident(session, r.url, load)

            await asyncio.gather(*(client() for _ in range(clients)))
            span = time.monotonic() - t0
            await settle(r, list(load.dispatched_at), 30)
            cpu = cpu_of(r.daemon.pid) - cpu0
        done = len(load.dispatched_at)
        to_radio = latencies(load, r.at_radio)
        to_ack = latencies(load, r.ack_at)
        five = sum(n for s, n in load.statuses.items() if s >= 500)
        note = f"  5xx={five}" + (f"  first error: {load.errors[0]}" if load.errors else "")
        return (
            f"| {store:<8} | {resources:>6,} | {done / span:8.1f} | {len(to_ack) / span:8.1f} | "
            f"{fmt(to_radio)} | {fmt(to_ack)} | {cpu * 1000 / max(1, done):7.1f} |{note}"
        )


async def paced(store: str, resources: int, rate: float, seconds: float) -> str:
    async with rig(resources=resources, store=store) as r:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            load = Load()
            tasks: list[asyncio.Task[None]] = []
            start = time.monotonic()
            n = int(rate * seconds)
            for i in range(n):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one_incident(session, r.url, load)))
            await asyncio.gather(*tasks)
            await settle(r, list(load.dispatched_at), 30)
        to_ack = latencies(load, r.ack_at)
        lost = len(load.dispatched_at) - len(to_ack)
        return (
            f"| {store:<8} | {resources:>6,} | {rate:5.0f}/s x {seconds:.0f} s | n={len(to_ack)} "
            f"(no ack: {lost}) | dispatch -> ack recorded p50 / p99 {fmt(to_ack)} ms |"
        )


async def bulk(store: str, radios: int) -> str:
    async with rig(resources=radios, store=store) as r:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            load = Load()
            created = await _post(session, f"{r.url}/incidents", FIELDS, load)
            assert created is not None
            ref = created["reference"]
            acks0, sent0 = r.acks, len(r.sent_at)
            t0 = time.monotonic()
            async with session.post(
                f"{r.url}/incidents/{ref}/callout", json={"capability": "engine"}
            ) as resp:
                status = resp.status
                body = await resp.text()
            if status >= 300:
                return f"| {store:<8} | bulk callout to {radios:,}: HTTP {status} {body[:120]} |"
            answered = time.monotonic() - t0
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and (r.acks - acks0 < radios):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            acks_done = time.monotonic()
        sends = r.sent_at[sent0:]
        if not sends:
            return f"| {store:<8} | bulk callout to {radios:,}: no attempt.sent event seen |"
        send_span = max(sends[-1] - t0, 1e-6)
        return (
            f"| {store:<8} | {radios:,} radios | request answered in {answered * 1000:.0f} ms | "
            f"{len(sends) / send_span:8.0f} deliveries/s sent | {r.acks - acks0} acks; last ack "
            f"{(acks_done - sends[-1]) * 1000:.0f} ms after the last send |"
        )


async def contention(seconds: float, units: int = 40, clients: int = 8) -> str:
    async with rig(resources=units, store="postgres") as r:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            load = Load()
            end = time.monotonic() + seconds
            rng = random.Random(1)

            async def client() -> None:
                while time.monotonic() < end:
                    created = await _post(session, f"{r.url}/incidents", FIELDS, load)
                    if created is None:
                        continue
                    chosen = rng.sample([f"U{i}" for i in range(1, units + 1)], 8)
                    await _post(
                        session,
                        f"{r.url}/incidents/{created['reference']}/dispatch",
                        {"resources": chosen},
                        load,
                    )

            await asyncio.gather(*(client() for _ in range(clients)))
        by_class = {k: sum(n for s, n in load.statuses.items() if s // 100 == k) for k in (2, 4, 5)}
        return (
            f"| postgres | {clients} clients, overlapping units, {seconds:.0f} s | 2xx={by_class[2]} "
            f"4xx={by_class[4]} 5xx={by_class[5]} |"
            + (f" first error: {load.errors[0]}" if load.errors else "")
        )


async def main(args: argparse.Namespace) -> None:
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    sizes = [int(s) for s in args.resources.split(",")]
    print(
        f"e2e: daemon subprocess, HTTP load from {args.clients} clients, private mosquitto, "
        "radio fleet acking at once"
    )
    print("\n## Throughput: create + dispatch recommended\n")
    print(
        "| store    |  units | incid./s | deliv./s | to radio p50 / p99 ms | to ack recorded "
        "p50 / p99 ms | CPU ms/inc |"
    )
    print("|---|---|---|---|---|---|---|")
    for store in stores:
        for size in sizes:
            print(await throughput(store, size, args.incidents, args.clients), flush=True)
    if args.paced_seconds > 0:
        print(f"\n## Paced: {args.paced_rate:g} incidents/s\n")
        for store in stores:
            print(await paced(store, args.paced_resources, args.paced_rate, args.paced_seconds), flush=True)
    if args.bulk > 0:
        print(f"\n## Bulk callout to {args.bulk} radios\n")
        for store in stores:
            print(await bulk(store, args.bulk), flush=True)
    if args.contention_seconds > 0 and "postgres" in stores:
        print("\n## PostgreSQL contention\n")
        print(await contention(args.contention_seconds), flush=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--resources", default="100,1000,5000")
    p.add_argument("--incidents", type=int, default=600)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--paced-rate", type=float, default=50)
    p.add_argument("--paced-resources", type=int, default=2000)
    p.add_argument("--paced-seconds", type=float, default=20)
    p.add_argument("--bulk", type=int, default=1000)
    p.add_argument("--contention-seconds", type=float, default=60)
    p.add_argument("--quick", action="store_true", help="small figures, for a smoke run")
    args = p.parse_args(argv)
    if args.quick:
        args.resources, args.incidents, args.paced_seconds = "100", 60, 3
        args.paced_resources, args.bulk, args.contention_seconds = 100, 100, 5
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
