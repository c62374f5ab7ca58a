"""Several nodes on one PostgreSQL database: deliveries per second with 1, 2 and 3 `callout run`
nodes on this machine, and the takeover after `kill -9` (docs/deployment.md).

    python -m benchmarks.cluster_bench [--deliveries 2000] [--nodes 1,2,3] [--lease 2]
                                       [--respond-delay 0.005] [--concurrency 64]

Prints figures; asserts nothing. Each run starts, on this machine only: a private PostgreSQL
database on the server named by CALLOUT_TEST_PG_URL, the field app simulator (webhook channel)
in this process, answering each POST after --respond-delay seconds and never acknowledging, and
N nodes as subprocesses. The units are paged by bulk callouts spread over the nodes' APIs.

- throughput: from the first callout to the last attempt recorded `sent`; deliveries/s. On one
  machine the nodes share its cores with PostgreSQL, so this shows the cost of the leases, not
  the capacity of N machines.
- takeover: two nodes, each sending; one is killed with SIGKILL while it holds leases; the time
  to the first `attempt.taken_over` (bounded by the lease), to every attempt sent, and how many
  messages arrived twice (those in flight on the dead node: at least once, same attempt id).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

from simulators.field_app import FieldApp
from tests.support import cluster
from tests.support.pg import private_database
from tests.support.waiting import until

NAMES = ["north", "south", "east", "west"]


def _site(db: str, app: FieldApp, count: int, lease: float, concurrency: int) -> str:
    units = {f"U{i:05d}": [("app", f"A{i:05d}")] for i in range(1, count + 1)}
    extra = f"[node]\nlease_seconds = {lease}\n[delivery]\nconcurrency = {concurrency}\n"
    return cluster.site(db, {"app": f"{app.url}/app/{{address}}"}, units, extra=extra)


async def _page(started: list[cluster.Node], count: int) -> None:
    ids = [f"U{i:05d}" for i in range(1, count + 1)]
    share = -(-count // len(started))
    for k, node in enumerate(started):
        chunk = ids[k * share : (k + 1) * share]
        if not chunk:
            continue
        p2 = {**cluster.FIRE, "impact": 2}
        inc = await cluster.acall(node, "POST", "/api/v1/incidents", p2)
        await cluster.acall(
            node, "POST", f"/api/v1/incidents/{inc['reference']}/callout", {"resources": chunk}
        )


async def _open(db: str) -> int:
    rows = await cluster.fetch(db, "SELECT count(*) AS n FROM attempts WHERE state IN ('pending', 'sending')")
    return int(rows[0]["n"])


async def _settle(db: str) -> None:
    async def settled() -> bool:
        return await _open(db) == 0

    await until(settled, "every attempt sent", timeout=600)


async def throughput(n: int, args: argparse.Namespace) -> None:
    async with private_database() as db, FieldApp(default="silent", respond_delay=args.respond_delay) as app:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "site.toml"
            cfg.write_text(_site(db, app, args.deliveries, args.lease, args.concurrency))
            with cluster.nodes(cfg, NAMES[:n]) as started:
                t0 = time.monotonic()
                await _page(started, args.deliveries)
                paged = time.monotonic() - t0
                await _settle(db)
                took = time.monotonic() - t0
                sent = len({r.body["message_id"] for r in app.received})
                rows = await cluster.fetch(
                    db, "SELECT lease_node, count(*) AS n FROM attempts GROUP BY 1 ORDER BY 1"
                )
                per_node = ", ".join(f"{r['lease_node']} {r['n']}" for r in rows)
                print(
                    f"{n} node(s): {sent} deliveries in {took:.2f} s = {sent / took:.0f}/s "
                    f"(callouts answered in {paged:.2f} s; sent by {per_node})",
                    flush=True,
                )


async def takeover(args: argparse.Namespace) -> None:
    count = max(200, args.deliveries // 4)
    async with private_database() as db, FieldApp(default="silent", respond_delay=0.2) as app:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "site.toml"
            cfg.write_text(_site(db, app, count, args.lease, 16))
            with cluster.nodes(cfg, NAMES[:2]) as (victim, survivor):
                await _page([victim, survivor], count)

                async def victim_sending() -> bool:
                    sql = "SELECT id FROM attempts WHERE state = 'sending' AND lease_node = $1"
                    return bool(await cluster.fetch(db, sql, victim.name))

                await until(victim_sending, "the victim sending", timeout=60)
                victim.kill()
                killed = time.time()
                t0 = time.monotonic()
                await _settle(db)
                settled = time.monotonic() - t0
                taken = await cluster.fetch(db, "SELECT at FROM audit WHERE kind = 'attempt.taken_over'")
                twice = sum(1 for n in Counter(r.body["message_id"] for r in app.received).values() if n > 1)
                first = min(r["at"] for r in taken) - killed if taken else float("nan")
                print(
                    f"takeover (lease {args.lease:g} s): first attempt taken over {first:.2f} s "
                    "after kill -9, "
                    f"{len(taken)} taken over, all {count} sent {settled:.2f} s after; "
                    f"{twice} arrived twice, "
                    f"{app.duplicates_dropped} more dropped by the app (same Idempotency-Key)",
                    flush=True,
                )


async def main(args: argparse.Namespace) -> None:
    for n in args.nodes:
        await throughput(n, args)
    await takeover(args)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--deliveries", type=int, default=2000)
    p.add_argument("--nodes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 3])
    p.add_argument("--lease", type=float, default=2.0)
    p.add_argument("--respond-delay", type=float, default=0.005)
    p.add_argument("--concurrency", type=int, default=64)
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
