"""Events to every node: another node's audit rows reach this node's bus, so a WebSocket client
on any node sees every bus event (docs/architecture.md, "Several nodes").

The migration's trigger announces each batch of new audit rows on `callout_events` with the range
of ids; this node reads those rows from the audit trail and publishes them, so a notification
carries no event itself and the WebSocket shows exactly what the store holds. Rows this node wrote
carry its application_name and are skipped (they were published at commit). New work from another
node (a dispatch through its API) also pokes this node's engine. One dedicated asyncpg connection
listens, opened again with back-off when lost; what was announced while it was down is not
published live, and a client finds it with `?since=` (the replay reads the audit trail)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from gateway.bus import Bus, BusEvent
from gateway.store import Store
from gateway.store import schema as t
from gateway.store.listen import listen_forever

log = logging.getLogger(__name__)
CHANNEL = "callout_events"
GATHER_SECONDS = 0.01  # ranges that arrive within this are read in one query


class ClusterEvents:
    def __init__(self, *, store: Store, bus: Bus, poke: Callable[[], None]) -> None:
        self.store = store
        self.bus = bus
        self.poke = poke
        self.received = 0  # audit rows from other nodes published here
        self._ranges: list[tuple[int, int]] = []
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Listen until cancelled (PostgreSQL only)."""
        await listen_forever(
            self.store.url,
            CHANNEL,
            name="callout-events",
            on_notify=self._on_notify,
            on_open=_nothing,
            drain=self._read_loop,
        )

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        origin, _, ids = payload.partition("|")
        if origin == self.store.application_name:
            return
        lo, _, hi = ids.partition("|")
        try:
            self._ranges.append((int(lo), int(hi)))
        except ValueError:
            log.warning("cluster events: unreadable notification %r", payload[:100])
            return
        self._wake.set()

    async def _read_loop(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(GATHER_SECONDS)
            self._wake.clear()
            ranges, self._ranges = self._ranges, []
            async with self.store.read() as tx:
                rows = await _audit_in(tx.conn, ranges)
            for row in rows:
                self.bus.publish(
                    BusEvent(
                        kind=row["kind"],
                        at=row["at"],
                        data=dict(row["data"] or {}),
                        incident=row["reference"],
                        audit_id=row["id"],
                    )
                )
            self.received += len(rows)
            if rows:
                self.poke()


async def _audit_in(conn: Any, ranges: list[tuple[int, int]]) -> list[dict[str, Any]]:
    if not ranges:
        return []
    a = t.audit.c
    res = await conn.execute(
        sa.select(t.audit, t.incidents.c.reference)
        .select_from(t.audit.outerjoin(t.incidents, a.incident_id == t.incidents.c.id))
        .where(sa.or_(*(a.id.between(lo, hi) for lo, hi in ranges)))
        .order_by(a.id)
    )
    return [dict(r._mapping) for r in res]


async def _nothing() -> None:
    """Events missed while not listening reach clients through `?since=` replay."""
