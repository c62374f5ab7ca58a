"""Delivery engine benchmark: dispatch decision latency and outbox throughput.

    python -m benchmarks.engine_bench [--incidents 300] [--store sqlite|postgres]

Measures, on a real store (SQLite in WAL mode in a temp dir, or PostgreSQL from
CALLOUT_TEST_PG_URL), with an in-memory channel that accepts at once:
- dispatch decision latency: from the dispatch call to its deliveries and first attempts committed
  in the outbox (triage already done), per incident with two resources;
- dispatch-to-sent latency: from the dispatch call until the channel has accepted both messages
  and the store says `sent`;
- outbox throughput: deliveries taken from pending to sent per second when many are queued at once;
- ack throughput: radio acks naming their message applied per second when they all arrive at once.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Self

from adapters.base import Capabilities, Channel, HealthState, OutboundMessage, RadioAck, SendReceipt
from gateway.app import Gateway
from gateway.settings import Settings


class InstantChannel(Channel):
    kind = "instant"

    def __init__(self, name: str) -> None:
        super().__init__(name=name, capabilities=Capabilities(max_length=160, two_way=True))
        self.count = 0
        self.changed = asyncio.Event()
        self.sent: list[tuple[str, str]] = []  # (address, message id)

    async def __aenter__(self) -> Self:
        self.set_health(HealthState.UP)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.set_health(HealthState.DOWN)

    async def send(self, message: OutboundMessage) -> SendReceipt:
        self.count += 1
        self.sent.append((message.address, message.message_id))
        self.changed.set()
        return SendReceipt(channel_ref=message.message_id)


def settings(url: str, units: int) -> Settings:
    return Settings(
        store={"url": url},
        channels=[{"name": "radio", "kind": "webhook", "options": {"url": "http://127.0.0.1:9/"}}],
        resources=[
            {
                "id": f"U-{i}",
                "capabilities": ["fire"],
                "contact_plan": [{"channel": "radio", "address": f"R{i}"}],
            }
            for i in range(units)
        ],
    )


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(name: str, ms: list[float]) -> str:
    return (
        f"{name:<34} n={len(ms):<5} p50={pct(ms, 50):7.2f} ms  p95={pct(ms, 95):7.2f} ms  "
        f"p99={pct(ms, 99):7.2f} ms  max={max(ms):7.2f} ms"
    )


async def wait_count(ch: InstantChannel, target: int) -> None:
    while ch.count < target:
        ch.changed.clear()
        await ch.changed.wait()


async def run(url: str, drain_url: str, incidents: int) -> None:
    radio = InstantChannel("radio")
    fields = {"nature": "bench", "location": "here", "category": "fire", "impact": 1, "urgency": 2}
    async with Gateway(settings(url, 2 * incidents + 2), channels={"radio": radio}) as gw, gw.running():
        decide, to_sent = [], []
        for i in range(incidents):
            inc = await gw.incidents.create(fields, source="bench", actor="bench")
            before = radio.count
            t0 = time.perf_counter()
            await gw.dispatch.dispatch(inc.reference, [f"U-{2 * i}", f"U-{2 * i + 1}"], actor="bench")
            decide.append((time.perf_counter() - t0) * 1000)
            await wait_count(radio, before + 2)
            to_sent.append((time.perf_counter() - t0) * 1000)
        print(line("dispatch decision (2 resources)", decide))
        print(line("dispatch to channel accepted", to_sent))

    radio = InstantChannel("radio")
    batch = incidents * 2
    async with Gateway(settings(drain_url, batch), channels={"radio": radio}) as gw:
        refs = [
            (await gw.incidents.create(fields, source="bench", actor="bench")).reference
            for _ in range(incidents)
        ]
        for i, ref in enumerate(refs):
            await gw.dispatch.dispatch(ref, [f"U-{2 * i}", f"U-{2 * i + 1}"], actor="bench")
        t0 = time.perf_counter()
        async with gw.running():
            await wait_count(radio, batch)
            elapsed = time.perf_counter() - t0
            print(
                f"{'outbox drain (queued at start)':<34} {batch} deliveries in {elapsed:.2f} s = "
                f"{batch / elapsed:.0f} deliveries/s"
            )
            sub = gw.bus.subscribe(100 * batch)
            t0 = time.perf_counter()
            for address, message_id in radio.sent:  # every radio presses ack at once
                radio.emit(RadioAck(address=address, message_id=message_id))
            acked = 0
            while acked < batch:
                event = await sub.get()
                acked += event is not None and event.kind == "delivery.acknowledged"
            elapsed = time.perf_counter() - t0
        rate = batch / elapsed
        print(f"{'acks applied (all at once)':<34} {batch} acks in {elapsed:.2f} s = {rate:.0f} acks/s")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--incidents", type=int, default=300)
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = ap.parse_args()
    print(f"callout engine benchmark: store={args.store}, incidents={args.incidents}")
    if args.store == "sqlite":
        with tempfile.TemporaryDirectory() as d:
            await run(
                f"sqlite+aiosqlite:///{Path(d) / 'a.db'}",
                f"sqlite+aiosqlite:///{Path(d) / 'b.db'}",
                args.incidents,
            )
        return
    import asyncpg

    admin = os.environ.get("CALLOUT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    names = [f"callout_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    conn = await asyncpg.connect(admin)
    try:
        for n in names:
            await conn.execute(f'CREATE DATABASE "{n}"')
        await run(f"{base}/{names[0]}", f"{base}/{names[1]}", args.incidents)
    finally:
        for n in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
