"""GSM modem pool benchmark: messages per minute through the sms_modem channel.

    python -m benchmarks.sms_modem_bench [--modems 4] [--latency 0.25] [--messages 240] [--parts 1]

Starts `--modems` simulated modems on pseudo-terminals, each taking `--latency` seconds between
Ctrl-Z and `+CMGS` (the network's answer), and one channel pooling them. Sends `--messages`
messages with more senders than modems, and prints messages per minute against the theoretical
maximum (modems * 60 / (latency * parts)): the ratio is what the AT dialogue, the pool and the
ptys cost on top of the network. Repeats with one modem for comparison. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from contextlib import AsyncExitStack

from adapters.base import OutboundMessage
from adapters.sms_modem.channel import build
from simulators.gsm_modem import GsmModem, ReportPlan


async def run(modems: int, latency: float, messages: int, parts: int, senders: int) -> dict[str, float]:
    sample = "Unit 12 to 1 High St, kitchen fire, persons reported. " * 20
    text = sample[: 153 * parts if parts > 1 else 150]
    async with AsyncExitStack() as stack:
        sims = [
            await stack.enter_async_context(GsmModem(send_latency=latency, report=ReportPlan(delay=0.05)))
            for _ in range(modems)
        ]
        options = {
            "modems": [{"name": f"m{i}", "device": s.device} for i, s in enumerate(sims, 1)],
            "max_parts": max(parts, 1),
            "send_deadline": 600.0,
            "send_timeout": 30.0,
        }
        ch = await stack.enter_async_context(build("sms", options))
        queue: asyncio.Queue[int] = asyncio.Queue()
        for k in range(messages):
            queue.put_nowait(k)
        per_modem: dict[str, int] = {}

        async def sender() -> None:
            while not queue.empty():
                k = queue.get_nowait()
                msg = OutboundMessage(str(k), f"+1555000{k % 1000:04d}", (text,), "INC", "P2", False)
                receipt = await ch.send(msg)
                modem = receipt.evidence["modem"]
                per_modem[modem] = per_modem.get(modem, 0) + 1

        started = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for n in range(senders):
                tg.create_task(sender(), name=f"bench.sender{n}")
        elapsed = time.perf_counter() - started
        received = sum(len(s.received) for s in sims)
    if received != messages:
        print(f"warning: the modems received {received} of {messages} messages")
    rate = messages / elapsed * 60
    ceiling = modems * 60 / (latency * parts)
    return {
        "elapsed": elapsed,
        "rate": rate,
        "ceiling": ceiling,
        "ratio": rate / ceiling,
        "spread": min(per_modem.values()) / max(per_modem.values()),
    }


def show(label: str, r: dict[str, float]) -> None:
    print(
        f"{label:<28} {r['rate']:8.0f} msg/min   theoretical {r['ceiling']:8.0f} msg/min   "
        f"ratio {r['ratio']:5.1%}   load spread min/max {r['spread']:4.2f}   ({r['elapsed']:.1f} s)"
    )


async def main(args: argparse.Namespace) -> None:
    print(
        f"sms_modem pool: latency {args.latency:g} s per +CMGS, {args.messages} messages, "
        f"{args.parts} part(s) each, {args.senders} concurrent senders"
    )
    for modems in (args.modems, 1):
        count = args.messages * modems // args.modems  # the same run time for each pool size
        r = await run(modems, args.latency, count, args.parts, args.senders)
        show(f"{modems} modem{'s' if modems > 1 else ''}", r)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modems", type=int, default=4)
    p.add_argument("--latency", type=float, default=0.25, help="simulated network answer time per part")
    p.add_argument("--messages", type=int, default=240)
    p.add_argument("--parts", type=int, default=1, help="parts per message (concatenated SMS)")
    p.add_argument("--senders", type=int, default=16)
    asyncio.run(main(p.parse_args()))
