"""SMPP channel benchmark: throughput and submit→receipt latency against the SMSC simulator.

    python -m benchmarks.smpp_bench [--messages 3000] [--windows 1 10 50] [--submit-delay 0.005]
                                    [--receipt-delay 0] [--same-process]

For each window size, one smpp channel bound to a fresh SMSC simulator sends `--messages`
single-part messages with registered_delivery, keeping twice the window in `send` at once.
The SMSC holds every submit_sm_resp back for `--submit-delay` seconds (its processing time,
which is what makes the window matter) and sends the receipt `--receipt-delay` after accepting.
By default the simulator runs in a child process, so the channel has one core to itself as it
would next to a real SMSC.

Measures: messages per second (first send to last receipt) and the latency from calling `send`
to the DeliveryReport (p50, p99). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from adapters.base import DeliveryReport, OutboundMessage
from adapters.smpp.channel import SmppChannel, build
from simulators.smsc import Smsc

CHILD = """
import asyncio, sys
from simulators.smsc import Smsc
async def run():
    async with Smsc(submit_delay=float(sys.argv[1]), receipt_delay=float(sys.argv[2])) as sim:
        print(sim.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(run())
"""


@contextlib.asynccontextmanager
async def smsc(submit_delay: float, receipt_delay: float, *, same_process: bool) -> AsyncIterator[int]:
    if same_process:
        async with Smsc(submit_delay=submit_delay, receipt_delay=receipt_delay) as sim:
            yield sim.port
        return
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(submit_delay),
        str(receipt_delay),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        port = int((await proc.stdout.readline()).decode())
        yield port
    finally:
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def message(i: int) -> OutboundMessage:
    return OutboundMessage(
        message_id=str(i),
        address=f"+4477009{i % 100000:05d}",
        parts=(f"INC-2026-{i:06d} P2 kitchen fire at 1 High St, bench message {i}",),
        incident_ref=f"INC-2026-{i:06d}",
        priority="P2",
        needs_ack=False,
    )


async def run_one(window: int, messages: int, args: argparse.Namespace) -> dict[str, Any]:
    async with smsc(args.submit_delay, args.receipt_delay, same_process=args.same_process) as port:
        ch = build("bench", {"port": port, "system_id": "callout", "password": "secret", "window": window})
        assert isinstance(ch, SmppChannel)
        async with ch:
            started: dict[str, float] = {}
            receipts: dict[str, float] = {}
            all_in = asyncio.Event()

            async def consume() -> None:
                async for event in ch.events():
                    if isinstance(event, DeliveryReport):
                        receipts[event.channel_ref] = time.perf_counter()
                        if len(receipts) == messages:
                            all_in.set()

            slots = asyncio.Semaphore(2 * window)

            async def one(i: int) -> None:
                async with slots:
                    t0 = time.perf_counter()
                    receipt = await ch.send(message(i))
                    assert receipt.channel_ref is not None
                    started[receipt.channel_ref] = t0

            consumer = asyncio.create_task(consume(), name="bench.consume")
            begin = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(messages)))
            await asyncio.wait_for(all_in.wait(), 60)
            end = max(receipts.values())
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
    latencies = sorted(receipts[ref] - t0 for ref, t0 in started.items())
    return {
        "window": window,
        "messages": messages,
        "rate": messages / (end - begin),
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(0.99 * (len(latencies) - 1))] * 1000,
    }


async def main(args: argparse.Namespace) -> None:
    where = "same process" if args.same_process else "child process"
    print(
        f"SMSC simulator ({where}): submit_sm_resp after {args.submit_delay * 1000:g} ms, "
        f"receipt {args.receipt_delay * 1000:g} ms after acceptance"
    )
    print(f"{'window':>6} {'messages':>8} {'msg/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for window in args.windows:
        # Window 1 is slow by design: send fewer messages so the run stays short.
        n = (
            min(args.messages, max(200, int(2 / max(args.submit_delay, 0.0005))))
            if window == 1
            else args.messages
        )
        r = await run_one(window, n, args)
        print(
            f"{r['window']:>6} {r['messages']:>8} {r['rate']:>9.0f} {r['p50']:>8.1f} {r['p99']:>8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--submit-delay", type=float, default=0.005)
    parser.add_argument("--receipt-delay", type=float, default=0.0)
    parser.add_argument("--same-process", action="store_true", help="run the simulator in this event loop")
    asyncio.run(main(parser.parse_args()))
