"""Chaos rounds shared by tests/chaos and `python -m benchmarks.chaos`: `callout run` as a real
process (tests/support/daemon.py), deliveries dispatched through its HTTP API, a fault injected
mid-stream, and the outcome checked against what the receivers really got (issue 14):

- lost: an accepted delivery that reached no receiver and was not closed as failed;
- stuck: an attempt still `pending` or `sending` once the round had time to settle;
- recorded-but-not-reached: an attempt recorded `sent` or `delivered` that no receiver got;
- duplicates: copies of a message a receiver got again (same attempt id, the idempotency key);
  a receiver that honours the key acts on none of them (`acted_twice` counts those it did);
- P1 fallback beyond the deadline: when the next endpoint got the message, past the deadline the
  fault allows (see tests/support/chaos_faults.py).

This module holds the figures, the store reads and the kill -9 round; the other faults live in
`chaos_faults`."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.field_app import FieldApp
from tests.support import cluster
from tests.support.daemon import Daemon, start

UNITS = 200  # deliveries per round: one bulk callout
OPEN = ("pending", "sending", "failed_temporary")


@dataclass
class Figures:
    """What one fault did to one store, summed over its rounds."""

    fault: str
    store: str
    rounds: int = 0
    faults: int = 0  # kills, restarts, drops: what "per fault" divides by
    accepted: int = 0
    lost: int = 0
    stuck: int = 0
    duplicates: int = 0
    acted_twice: int = 0
    not_reached: int = 0
    late_ms: list[float] = field(default_factory=list)  # P1 fallback beyond the deadline
    recovered: int = 0  # in flight at a kill, recorded from the sent journal at restart
    resent: int = 0  # in flight at a kill, sent again at restart
    rates: list[float] = field(default_factory=list)  # messages/s reaching receivers before a fault
    notes: list[str] = field(default_factory=list)

    def add(self, other: Figures) -> None:
        for name in (
            "rounds",
            "faults",
            "accepted",
            "lost",
            "stuck",
            "duplicates",
            "acted_twice",
            "recovered",
            "resent",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.not_reached += other.not_reached
        self.late_ms += other.late_ms
        self.rates += other.rates
        self.notes += other.notes

    @property
    def per_fault(self) -> float:
        return self.duplicates / max(1, self.faults)


# ---- the store, read from outside the daemon ---------------------------------------------------
@dataclass(frozen=True)
class StoreRef:
    """Where a round's daemon keeps its data: a PostgreSQL URL, or SQLite in `data_dir`."""

    name: str  # "sqlite" or "postgres"
    url: str  # "" for SQLite
    data_dir: Path

    async def rows(self, sql: str) -> list[dict[str, Any]]:
        if self.url:
            return [dict(r) for r in await cluster.fetch(self.url, sql)]
        return await asyncio.to_thread(self._sqlite_rows, sql)

    def _sqlite_rows(self, sql: str) -> list[dict[str, Any]]:
        db = sqlite3.connect(self.data_dir / "callout.db", timeout=30)
        try:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute(sql)]
        finally:
            db.close()

    async def attempts(self, incident_refs: Iterable[str]) -> list[dict[str, Any]]:
        """Attempts of these incidents: id, state, channel, delivery id, address."""
        refs = ", ".join(f"'{r}'" for r in incident_refs) or "''"
        return await self.rows(
            "SELECT a.id, a.state, a.channel, a.delivery_id, a.address, d.state AS delivery_state "
            "FROM attempts a JOIN deliveries d ON d.id = a.delivery_id "
            f"JOIN incidents i ON i.id = d.incident_id WHERE i.reference IN ({refs})"
        )


async def settled(ref: StoreRef, incidents: list[str], timeout: float) -> list[dict[str, Any]]:
    """The incidents' attempts once none is open, or as they are after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await ref.attempts(incidents)
        if not any(r["state"] in OPEN for r in rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.1)


def judge(fig: Figures, rows: list[dict[str, Any]], got: Callable[[dict[str, Any]], int]) -> None:
    """Compare the store with what the receivers got (`got`: copies a receiver got of the
    message of this attempt row)."""
    reached = {r["delivery_id"] for r in rows if got(r)}
    for r in rows:
        if r["state"] in OPEN:
            fig.stuck += 1
        if r["state"] in ("sent", "delivered") and not got(r):
            fig.not_reached += 1
    failed = {r["delivery_id"] for r in rows if r["delivery_state"] in ("failed_permanent", "cancelled")}
    fig.lost += len({r["delivery_id"] for r in rows} - reached - failed)


# ---- kill -9 ------------------------------------------------------------------------------------
class KeyedApp(FieldApp):
    """The field app (honours Idempotency-Key) that also counts every copy it got, per attempt
    id (the key) and per address, and when the first copy for an address came."""

    copies: Counter[int]
    by_address: Counter[str]
    first_at: dict[str, float]

    async def __aenter__(self) -> KeyedApp:
        self.copies, self.by_address, self.first_at = Counter(), Counter(), {}
        await super().__aenter__()
        return self

    async def _receive(self, request: Any) -> Any:
        key = request.headers.get("Idempotency-Key")
        if key is not None and key.isdigit():
            self.copies[int(key)] += 1
        address = request.match_info["address"]
        self.by_address[address] += 1
        self.first_at.setdefault(address, time.monotonic())
        return await super()._receive(request)

    def acted_twice(self, attempt_ids: set[int]) -> int:
        """Messages acted on more than once: what a receiver honouring the key never does."""
        acted = Counter(int(r.body["message_id"]) for r in self.received)
        return sum(n - 1 for i, n in acted.items() if i in attempt_ids and n > 1)


def site_file(ref: StoreRef, app_url: str, units: int, extra: str = "") -> Path:
    cfg = ref.data_dir / "site.toml"
    resources = {f"U{i:03d}": [("app", f"A{i:03d}")] for i in range(1, units + 1)}
    cfg.write_text(
        cluster.site(ref.url, {"app": f"{app_url}/app/{{address}}"}, resources, extra, ref.data_dir)
    )
    return cfg


async def page_all(daemon: Daemon, units: int) -> tuple[str, int]:
    """One incident, one bulk callout to every unit through the API: (reference, deliveries)."""
    inc = await cluster.acall(daemon, "POST", "/api/v1/incidents", cluster.FIRE)
    ids = [f"U{i:03d}" for i in range(1, units + 1)]
    paged = await cluster.acall(
        daemon, "POST", f"/api/v1/incidents/{inc['reference']}/callout", {"resources": ids}
    )
    return str(inc["reference"]), int(paged["paged"])


async def kill_rounds(
    ref: StoreRef, rounds: int, *, units: int = UNITS, settle: float = 60, extra: str = ""
) -> Figures:
    """Each round: a bulk callout of `units` webhook deliveries; once a quarter have reached the
    field app, SIGKILL the daemon, start it again and let it finish. One daemon per store."""
    fig = Figures("kill -9", ref.name)
    async with KeyedApp(default="silent") as app:
        cfg = site_file(ref, app.url, units, extra)
        daemon = await asyncio.to_thread(start, cfg)
        try:
            for _ in range(rounds):
                seen = len(app.received)
                incident, paged = await page_all(daemon, units)
                fig.accepted += paged
                t0 = time.monotonic()
                while len(app.received) - seen < 1 and time.monotonic() < t0 + 30:
                    await asyncio.sleep(0.001)
                t1, first = time.monotonic(), len(app.received)
                while len(app.received) - seen < units // 2 and time.monotonic() < t0 + 30:
                    await asyncio.sleep(0.001)
                daemon.kill()
                fig.rates.append((len(app.received) - first) / max(1e-3, time.monotonic() - t1))
                fig.faults += 1
                daemon = await asyncio.to_thread(start, cfg)
                rows = await settled(ref, [incident], settle)
                for line in daemon.log:  # what the restart found in flight (gateway/engine/engine.py)
                    m = re.search(r"(\d+) recorded from the sent journal, (\d+) sent again", line)
                    if m:
                        fig.recovered += int(m.group(1))
                        fig.resent += int(m.group(2))
                ids = {r["id"] for r in rows}
                judge(fig, rows, lambda r: app.copies[r["id"]])
                fig.duplicates += sum(n - 1 for i, n in app.copies.items() if i in ids and n > 1)
                fig.acted_twice += app.acted_twice(ids)
                fig.rounds += 1
        finally:
            await asyncio.to_thread(daemon.stop)
    return fig
