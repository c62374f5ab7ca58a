"""CTI benchmark: sipp calls a running gateway's pjsua2 desk at 10, 50 and 100 calls per second.

    python -m benchmarks.cti_sip_bench [--seconds 60] [--rates 10,50,100] [--workers 4]

For each rate: calls answered (a 200 OK to sipp's INVITE), handled (answered, and the incident's
screen-pop on the bus), failed (unanswered, among them 486 refusals when all lines are busy, or
answered with no incident once the incidents stop coming), how long after sipp's last call the
last incident came, and p50/p99 latency from the 200 OK sipp received to the incident's
screen-pop event on the bus (what the WebSocket streams to the desk). Callers get
distinct numbers, so every call makes an incident. The pjsua2 wheel allows 4 calls at once per
process, so the desk runs `--workers` worker processes behind its SIP front (adapters/sip/pool.py;
0: the in-process desk); calls are short (the caller hangs up after 1 ms) and sipp keeps at most
four lines per worker up.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from adapters.sip.channel import build
from gateway.app import Gateway
from gateway.settings import Settings
from simulators.sip_calls import Caller, SippCalls, Traced


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


async def run_rate(rate: int, seconds: float, workers: int) -> None:
    count = int(rate * seconds)
    with tempfile.TemporaryDirectory() as d:
        settings = Settings(store={"url": f"sqlite+aiosqlite:///{Path(d) / 'bench.db'}"})
        options = {"bind_address": "127.0.0.1", "port": 0, "desk": "desk-1", "workers": workers}
        source = build("desk", options)
        async with Gateway(settings, cti_sources={"desk": source}) as gw, gw.running():
            sub = gw.bus.subscribe(10 * count + 1000)
            seen: dict[str, float] = {}

            async def watch() -> None:
                async for event in sub:
                    if event.kind == "call.screen_pop":
                        seen[event.data["call_id"]] = time.time()

            watcher = asyncio.create_task(watch(), name="bench.watch")
            callers = [Caller(f"07{n:09d}", f"Caller {n}") for n in range(count)]
            uri = f"sip:999@127.0.0.1:{gw.cti_sources['desk'].local_port}"  # type: ignore[attr-defined]
            started = time.monotonic()
            async with SippCalls(
                to=uri, callers=callers, rate=rate, limit=4 * max(1, workers), hold_ms=1, trace=True
            ) as sipp:
                await sipp.wait()
                messages = sipp.messages()
            elapsed = time.monotonic() - started
            answered = {str(m.header("Call-ID")) for m in messages if _ok_to_invite(m)}
            # Incidents still being written when sipp is done are late, not lost: wait for them
            # while they keep coming.
            done_at, last, progress = time.time(), -1, time.monotonic()
            while answered - seen.keys() and time.monotonic() - progress < 2.0:
                if len(seen) != last:
                    last, progress = len(seen), time.monotonic()
                await asyncio.sleep(0.05)
            backlog = max(0.0, max(seen.values(), default=done_at) - done_at)
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
    oks = {str(m.header("Call-ID")): m.at for m in messages if _ok_to_invite(m)}
    refused = sum(1 for m in messages if m.direction == "received" and m.first_line.startswith("SIP/2.0 486"))
    invites = len(
        {
            str(m.header("Call-ID"))
            for m in messages
            if m.direction == "sent" and m.first_line.startswith("INVITE ")
        }
    )
    lat = [(seen[cid] - at) * 1000 for cid, at in oks.items() if cid in seen]
    handled = len(lat)
    mean = statistics.fmean(lat) if lat else 0.0
    print(
        f"{rate:>4} calls/s for {elapsed:5.1f} s: {invites} calls, {len(oks)} answered, {handled} handled, "
        f"{invites - handled} failed ({invites - len(oks)} unanswered, {refused} refused busy, "
        f"{len(oks) - handled} answered without an incident); last incident {backlog:.2f} s after the "
        f"last call; 200 OK -> incident on the bus: p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms, "
        f"mean {mean:.1f} ms"
    )


def _ok_to_invite(m: Traced) -> bool:
    return (
        m.direction == "received"
        and m.first_line.startswith("SIP/2.0 200 ")
        and (m.header("CSeq") or "").endswith("INVITE")
    )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rates", default="10,50,100")
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    print(
        f"callout CTI benchmark: sipp -> SIP front -> {args.workers} pjsua2 desk workers -> incident, "
        f"{args.seconds:g} s per rate"
    )
    for rate in (int(r) for r in args.rates.split(",")):
        await run_rate(rate, args.seconds, args.workers)


if __name__ == "__main__":
    asyncio.run(main())
