"""Delivery truth under faults (issue 14): `callout run` as a real process, deliveries dispatched
through its HTTP API, a fault injected mid-stream, the store checked against what the receivers got.

    python -m benchmarks.chaos [--rounds 100] [--store sqlite|postgres|both]
                               [--faults kill0,kill,kill1,killfb,webhook,broker,smsc,modem,pg]

Prints one row per fault and store; asserts nothing. Faults (tests/support/chaos*.py):
- kill: SIGKILL of the daemon while a bulk callout of 200 webhook deliveries is half sent, then a
  restart (about 2 s a round); kill0: the same with `[delivery] sent_journal = false`;
  kill1: the same with `[delivery] channel_in_flight = 1`;
  killfb: a kill -9 and restart in the fallback rounds below (P1 late across a restart);
- webhook: the field app takes requests and never answers for 2 s (FieldApp `hang`);
- broker: a private mosquitto without persistence restarted (down 1 s) under MQTT radio sends;
- smsc: the SMSC simulator drops every bind with submits in the window;
- modem: the GSM modem simulator (on a pseudo-terminal) silent for 3 s;
- pg: the private PostgreSQL server stopped for 2 s (PostgreSQL only).
The last six page 40 units with a webhook backup endpoint behind the faulty one; nobody acks, so
each P1 must reach its backup at the 3 s ack deadline: "P1 late" is how much later it did (about
10 s a round). Columns: accepted deliveries; lost (reached no receiver, not closed as failed);
stuck (still pending/sending/retrying after the round settled); dup (copies a receiver got again,
and per fault); not reached (recorded sent/delivered, no receiver got it); acted twice (the field
app, which honours Idempotency-Key, acting on one message again); for kill -9 also the attempts
in flight at the kill that the sent journal recorded and that were sent again, and the send rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from tests.support.chaos import Figures, StoreRef, kill_rounds
from tests.support.chaos_faults import fault_rounds, private_pg_server
from tests.support.pg import private_database

FAULTS = {
    "kill0": "kill -9, no sent journal",
    "kill": "kill -9",
    "kill1": "kill -9, channel_in_flight = 1",
    "killfb": "kill -9, P1 fallback",
    "webhook": "webhook hang",
    "broker": "broker restart",
    "smsc": "SMSC drops the bind",
    "modem": "modem silence",
    "pg": "PostgreSQL restart",
}


@contextlib.asynccontextmanager
async def store(name: str) -> AsyncIterator[StoreRef]:
    with tempfile.TemporaryDirectory(prefix="callout-chaos-") as tmp:
        if name == "postgres":
            async with private_database() as db:
                yield StoreRef(name, db, Path(tmp))
        else:
            yield StoreRef(name, "", Path(tmp))


async def run(fault: str, store_name: str, rounds: int) -> Figures | None:
    if fault == "pg":
        if store_name != "postgres":
            return None
        with tempfile.TemporaryDirectory(prefix="callout-chaos-") as tmp:
            async with private_pg_server() as pg:
                return await fault_rounds(
                    FAULTS[fault], StoreRef("postgres", pg.url, Path(tmp)), rounds, pg=pg
                )
    async with store(store_name) as ref:
        if fault == "kill":
            return await kill_rounds(ref, rounds)
        if fault in ("kill0", "kill1"):
            extra = {"kill0": "sent_journal = false", "kill1": "channel_in_flight = 1"}[fault]
            fig = await kill_rounds(ref, rounds, extra=f"[delivery]\n{extra}\n")
            fig.fault = FAULTS[fault]
            return fig
        return await fault_rounds(FAULTS[fault], ref, rounds)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def row(f: Figures) -> str:
    late = f"{pct(f.late_ms, 50):6.0f} / {pct(f.late_ms, 99):6.0f}" if f.late_ms else "-"
    kill = f"{f.recovered} / {f.resent} | {sum(f.rates) / len(f.rates):5.0f}/s" if f.rates else "- | -"
    notes = "; ".join(sorted(set(f.notes)))
    return (
        f"| {f.fault} | {f.store} | {f.rounds} | {f.accepted} | {f.lost} | {f.stuck} | {f.duplicates} "
        f"({f.per_fault:.2f}) | {f.not_reached} | {f.acted_twice} | {late} | {kill} |"
        + (f" {notes}" if notes else "")
    )


async def main(args: argparse.Namespace) -> None:
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    load = os.getloadavg()
    print(f"chaos: {args.rounds} rounds per fault and store; load average {load[0]:.2f} {load[1]:.2f}")
    print(
        "\n| fault | store | rounds | accepted | lost | stuck | dup (per fault) | not reached | "
        "acted twice | P1 late p50 / p99 ms | kill: journal / sent again | send rate |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for fault in args.faults.split(","):
        if fault not in FAULTS:
            raise SystemExit(f"--faults: unknown fault {fault!r} (known: {', '.join(FAULTS)})")
        for name in stores:
            fig = await run(fault, name, args.rounds)
            if fig is not None:
                print(row(fig), flush=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--faults", default=",".join(FAULTS))
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
