"""MQTT radio channel benchmark: 1,000 simulated radios on one private mosquitto.

    python -m benchmarks.radio_mqtt_bench [--radios 1000] [--messages 5000] [--rate 1000]
                                          [--seconds 3] [--incidents 300]

Prints figures; asserts nothing. In one run, on one private broker (persistence off):
- raw broker capacity: `mosquitto_pub -l` → broker → `mosquitto_sub`, QoS 1, one topic (the
  reference: C clients, one broker hop, no application work);
- channel alone, flat out: `channel.send` in a loop (a window of sends awaiting PUBACK) to
  round-robin radios; the fleet (a separate process, one MQTT connection) answers each message
  with a receipt and an ack, so one dispatch is 3 messages through the broker. Acks per second;
- channel alone, paced at --rate msg/s for --seconds: latency from `send` to the RadioAck event;
- through the Gateway (SQLite in WAL mode, system clock): --incidents dispatches, each to one
  resource whose contact plan is one radio: dispatch call to `delivery.acknowledged` on the bus,
  split at `attempt.sent`.
CPU seconds of each process (broker, fleet, this process) show where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from adapters.base import OutboundMessage, RadioAck
from adapters.radio_mqtt.channel import RadioMqttChannel, build
from gateway.app import Gateway
from gateway.settings import Settings
from simulators.radio_fleet import PrivateBroker

TICK = os.sysconf("SC_CLK_TCK")
FIELDS = {"nature": "bench", "location": "here", "category": "fire", "impact": 1, "urgency": 2}


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process so far (proc(5), fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(name: str, ms: list[float]) -> str:
    return (
        f"  {name:<30} n={len(ms):<5} p50={pct(ms, 50):7.2f} ms  p95={pct(ms, 95):7.2f} ms  "
        f"p99={pct(ms, 99):7.2f} ms  max={max(ms):7.2f} ms"
    )


class Meter:
    """CPU seconds used by the broker, the fleet and this process between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.c0 = {n: cpu_of(p) for n, p in self.pids.items()} | {"channel": time.process_time()}

    def report(self, messages: int) -> str:
        wall = time.perf_counter() - self.t0
        c1 = {n: cpu_of(p) for n, p in self.pids.items()} | {"channel": time.process_time()}
        parts = [
            f"{n} {c1[n] - self.c0[n]:.2f} s ({(c1[n] - self.c0[n]) / messages * 1e6:.0f} µs/msg)"
            for n in ("broker", "fleet", "channel")
        ]
        return f"  CPU over {wall:.2f} s wall: " + ", ".join(parts)


async def raw_capacity(broker: PrivateBroker, n: int) -> float:
    common = ["-h", "127.0.0.1", "-p", str(broker.port), "-t", "bench/raw", "-q", "1"]
    sub = await asyncio.create_subprocess_exec(
        "mosquitto_sub", *common, "-C", str(n), stdout=asyncio.subprocess.DEVNULL
    )
    await asyncio.sleep(0.5)  # let it subscribe
    body = (b'{"id":"123456","incident":"INC-2026-000001","text":"' + b"x" * 80 + b'","ack":true}\n') * n
    t0 = time.perf_counter()
    pub = await asyncio.create_subprocess_exec("mosquitto_pub", *common, "-l", stdin=asyncio.subprocess.PIPE)
    assert pub.stdin is not None
    pub.stdin.write(body)
    await pub.stdin.drain()
    pub.stdin.close()
    await asyncio.wait_for(sub.wait(), 60)
    elapsed = time.perf_counter() - t0
    await pub.wait()
    return n / elapsed


@contextlib.asynccontextmanager
async def fleet_process(broker: PrivateBroker, radios: int) -> AsyncIterator[int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.radio_fleet",
        "--broker",
        broker.url,
        "--count",
        str(radios),
        "--ack-delay",
        "0",
        "--no-walk",
        "--quiet",
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        yield proc.pid
    finally:
        proc.terminate()
        await proc.wait()


def message(i: int, radios: int) -> OutboundMessage:
    return OutboundMessage(
        message_id=str(i),
        address=f"R{i % radios + 1}",
        parts=(f"INC-2026-{i:06d} P2 FIRE: kitchen fire at 1 High St. Reply ACK {i}",),
        incident_ref=f"INC-2026-{i:06d}",
        priority="P2",
        needs_ack=True,
    )


async def until_present(ch: RadioMqttChannel, radio: str) -> None:
    """Wait (up to 30 s) until the fleet's retained presence for `radio` has reached us."""
    async with asyncio.timeout(30):
        while ch.presence(radio) is not True:  # noqa: ASYNC110 - presence has no event to wait on
            await asyncio.sleep(0.05)


class AckClock:
    """Send times and ack times by message id, fed by the channel's event stream."""

    def __init__(self, ch: RadioMqttChannel) -> None:
        self.ch = ch
        self.sent: dict[str, float] = {}
        self.acked: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def pump(self) -> None:
        async for event in self.ch.events():
            if isinstance(event, RadioAck) and event.message_id is not None:
                self.acked.setdefault(event.message_id, time.perf_counter())
                self.changed.set()

    async def wait(self, count: int) -> None:
        async with asyncio.timeout(120):
            while len(self.acked) < count:
                self.changed.clear()
                await self.changed.wait()


async def channel_alone(broker: PrivateBroker, meter: Meter, args: argparse.Namespace) -> None:
    ch = build("radio", {"broker": broker.url, "client_id": "bench", "max_inflight": 1000})
    assert isinstance(ch, RadioMqttChannel)
    async with ch, asyncio.TaskGroup() as tg:
        clock = AckClock(ch)
        pump = tg.create_task(clock.pump(), name="bench.acks")
        await until_present(ch, f"R{args.radios}")
        send_ms: list[float] = []

        async def send(i: int) -> None:
            t = time.perf_counter()
            clock.sent[str(i)] = t
            await ch.send(message(i, args.radios))
            send_ms.append((time.perf_counter() - t) * 1000)

        # Flat out: a window of sends awaiting their PUBACK (64, the engine's default concurrency);
        # acks counted as they come.
        n = args.messages
        window = asyncio.Semaphore(64)

        async def windowed(i: int) -> None:
            async with window:
                await send(i)

        meter.start()
        t0 = time.perf_counter()
        async with asyncio.TaskGroup() as sends:
            for i in range(n):
                await window.acquire()
                window.release()
                sends.create_task(windowed(i))
        published = time.perf_counter() - t0
        await clock.wait(n)
        elapsed = max(clock.acked.values()) - t0
        print(f"channel alone, flat out ({n} messages to {args.radios} radios):")
        print(f"  published (PUBACKed) {n / published:8.0f} msg/s")
        print(f"  acked                {n / elapsed:8.0f} msg/s  ({3 * n / elapsed:.0f} broker msgs/s)")
        print(meter.report(n))

        # Paced: --rate msg/s for --seconds; latency from send to RadioAck.
        base = n
        total = int(args.rate * args.seconds)
        send_ms.clear()
        meter.start()
        t0 = time.perf_counter()
        async with asyncio.TaskGroup() as sends:
            for k in range(total):
                due = t0 + k / args.rate
                delay = due - time.perf_counter()
                if delay > 0.001:
                    await asyncio.sleep(delay)
                sends.create_task(send(base + k))
        await clock.wait(base + total)
        lat = [(clock.acked[str(i)] - clock.sent[str(i)]) * 1000 for i in range(base, base + total)]
        achieved = total / (max(clock.acked[str(i)] for i in range(base, base + total)) - t0)
        print(f"channel alone, paced at {args.rate}/s for {args.seconds:g} s (achieved {achieved:.0f}/s):")
        print(line("send() until PUBACK", send_ms))
        print(line("send() until RadioAck", lat))
        print(meter.report(total))
        pump.cancel()


async def through_gateway(broker: PrivateBroker, meter: Meter, args: argparse.Namespace) -> None:
    n = args.incidents
    with tempfile.TemporaryDirectory() as d:
        settings = Settings(
            store={"url": f"sqlite+aiosqlite:///{Path(d) / 'bench.db'}"},
            channels=[{"name": "radio", "kind": "webhook", "options": {"url": "http://127.0.0.1:9/"}}],
            resources=[
                {
                    "id": f"U-{i}",
                    "capabilities": ["fire"],
                    "contact_plan": [{"channel": "radio", "address": f"R{i % args.radios + 1}"}],
                }
                for i in range(n)
            ],
        )
        ch = build("radio", {"broker": broker.url, "client_id": "bench-gw", "max_inflight": 1000})
        async with Gateway(settings, channels={"radio": ch}) as gw, gw.running():
            await until_present(ch, f"R{args.radios}")
            refs = [
                (await gw.incidents.create(FIELDS, source="bench", actor="bench")).reference for _ in range(n)
            ]
            sub = gw.bus.subscribe(maxsize=1_000_000)
            started: dict[str, float] = {}
            sent: dict[str, float] = {}
            acked: dict[str, float] = {}
            done = asyncio.Event()

            async def watch() -> None:
                async for ev in sub:
                    if ev.incident is None:
                        continue
                    if ev.kind == "attempt.sent":
                        sent.setdefault(ev.incident, time.perf_counter())
                    elif ev.kind == "delivery.acknowledged":
                        acked.setdefault(ev.incident, time.perf_counter())
                        if len(acked) == n:
                            done.set()

            async with asyncio.TaskGroup() as tg:
                watcher = tg.create_task(watch(), name="bench.bus")
                meter.start()
                t0 = time.perf_counter()
                for i, ref in enumerate(refs):
                    started[ref] = time.perf_counter()
                    await gw.dispatch.dispatch(ref, [f"U-{i}"], actor="bench")
                async with asyncio.timeout(300):
                    await done.wait()
                elapsed = max(acked.values()) - t0
                watcher.cancel()
        print(f"through the Gateway ({n} dispatches back to back, SQLite):")
        print(f"  acknowledged {n / elapsed:8.0f} deliveries/s")
        print(line("dispatch() until attempt.sent", [(sent[r] - started[r]) * 1000 for r in refs]))
        print(line("attempt.sent until acknowledged", [(acked[r] - sent[r]) * 1000 for r in refs]))
        print(line("dispatch() until acknowledged", [(acked[r] - started[r]) * 1000 for r in refs]))
        print(meter.report(n))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--radios", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--incidents", type=int, default=300)
    ap.add_argument("--raw", type=int, default=50_000, help="messages for the raw broker reference")
    args = ap.parse_args()
    print(f"radio_mqtt benchmark: {args.radios} radios, {os.cpu_count()} CPUs")
    async with PrivateBroker(persistence=False) as broker:
        assert broker.pid is not None
        raw = raw_capacity(broker, args.raw)
        rate = await raw
        print(f"raw broker (mosquitto_pub -l → mosquitto_sub, QoS 1): {rate:8.0f} msg/s")
        async with fleet_process(broker, args.radios) as fleet_pid:
            meter = Meter({"broker": broker.pid, "fleet": fleet_pid})
            await channel_alone(broker, meter, args)
            await through_gateway(broker, meter, args)


if __name__ == "__main__":
    asyncio.run(main())
