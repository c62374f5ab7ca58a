"""TAP channel throughput on the paging-terminal simulator over a real pty, paced at the line rate.

    python -m benchmarks.pager_tap_bench [--pages-1200 10] [--pages-9600 60] [--length 80]

For each line rate it measures pages per minute
- batched: every page queued at once and sent in the one open TAP session (stop-and-wait: a
  block, then the terminal's answer, then the next block);
- one call per page: each page waits for the previous session to log off (wake-up, logon, page,
  logoff every time), to show what batching saves;
and compares them with the line-rate limit computed from the characters actually on the wire in
both directions (TAP is stop-and-wait, so the two directions add up): limit = 60 / (characters
per page x 10 bits / baud). The simulator paces its line at the baud rate, so the limit is real.
Target: batched >= 0.8 of the line rate. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.base import Channel, HealthState, OutboundMessage
from adapters.pager_tap.channel import TapChannel, build
from simulators.tap_terminal import TapTerminal


def message(i: int, length: int) -> OutboundMessage:
    text = (f"INC-2026-{i:06d} P1 structure fire 14 Harbour Rd attend " + "x" * length)[:length]
    return OutboundMessage(
        message_id=str(i),
        address=f"{1000 + i}",
        parts=(text,),
        incident_ref="INC",
        priority="P1",
        needs_ack=True,
    )


async def wait_up(ch: Channel) -> None:
    feed = ch.health_changes()
    try:
        if ch.health.state is not HealthState.UP:
            async for health in feed:
                if health.state is HealthState.UP:
                    break
    finally:
        feed.close()


async def measure(baud: int, pages: int, length: int, *, batched: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        link = Path(tmp) / "ttyTAP"
        async with TapTerminal(pty_link=link, baud=baud) as term:
            opts = {"device": str(link), "baudrate": baud, "max_length": max(length, 8)}
            # batched: the start-up call opens the session and keeps it open; otherwise every
            # page is its own call.
            opts |= (
                {"linger": 10.0, "probe_on_start": True}
                if batched
                else {"linger": 0.0, "probe_on_start": False}
            )
            async with build("pager", opts) as ch:
                if batched:
                    await wait_up(ch)
                rx0, tx0 = term.rx_bytes, term.tx_bytes
                started = time.perf_counter()
                if batched:
                    await asyncio.gather(*(ch.send(message(i, length)) for i in range(pages)))
                else:  # linger 0: the call is logged off before the next send is queued
                    for i in range(pages):
                        await ch.send(message(i, length))
                elapsed = time.perf_counter() - started
                assert isinstance(ch, TapChannel)
                calls = ch.sessions
                chars = (term.rx_bytes - rx0) + (term.tx_bytes - tx0)
    per_page = chars / pages
    limit = 60.0 / (per_page * 10.0 / baud)
    rate = pages / elapsed * 60.0
    return {
        "baud": baud,
        "mode": "batched, one session" if batched else "one call per page",
        "pages": pages,
        "seconds": elapsed,
        "rate": rate,
        "chars": per_page,
        "limit": limit,
        "ratio": rate / limit,
        "calls": calls,
    }


async def run(pages_1200: int, pages_9600: int, length: int) -> None:
    rows = []
    for baud, pages in ((1200, pages_1200), (9600, pages_9600)):
        rows.append(await measure(baud, pages, length, batched=True))
        rows.append(await measure(baud, max(2, pages // 5), length, batched=False))
    print(f"TAP over a paced pty, {length}-character pages (10 bits per character: 7E1)")
    print(
        f"{'baud':>5}  {'mode':<22} {'pages':>5} {'calls':>5} {'seconds':>8} {'pages/min':>10} "
        f"{'chars/page':>10} {'line-rate pages/min':>20} {'ratio':>6}"
    )
    for r in rows:
        print(
            f"{r['baud']:>5}  {r['mode']:<22} {r['pages']:>5} {r['calls']:>5} {r['seconds']:>8.2f} "
            f"{r['rate']:>10.1f} {r['chars']:>10.1f} {r['limit']:>20.1f} {r['ratio']:>6.2f}"
        )
    for baud in (1200, 9600):
        batched, single = (r for r in rows if r["baud"] == baud)
        print(
            f"{baud} baud: batching sends {batched['rate'] / single['rate']:.1f}x the pages per minute of"
            f" one call per page; batched runs at {batched['ratio']:.2f} of the line rate (target >= 0.8)"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pages-1200", type=int, default=10)
    p.add_argument("--pages-9600", type=int, default=60)
    p.add_argument("--length", type=int, default=80, help="characters per page")
    args = p.parse_args()
    asyncio.run(run(args.pages_1200, args.pages_9600, args.length))


if __name__ == "__main__":
    main()
