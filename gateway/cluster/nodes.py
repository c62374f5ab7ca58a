"""The `nodes` table (migration 0012): one heartbeat row per node, and the leases each holds.

A node is alive while its heartbeat is younger than `node.lease_seconds`; its leases on attempts
being sent expire with it (docs/architecture.md, "Several nodes")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.states import DeliveryState
from gateway.store import schema as t


@dataclass(frozen=True, slots=True)
class NodeRow:
    name: str
    started_at: float
    heartbeat_at: float
    hosts: list[str]
    api_url: str
    leases: int  # attempts being sent under a lease this node holds now


async def beat(
    conn: AsyncConnection, *, name: str, started_at: float, now: float, hosts: Sequence[str], api_url: str
) -> None:
    """Insert or renew this node's heartbeat row."""
    values = {"heartbeat_at": now, "hosts": list(hosts), "api_url": api_url, "started_at": started_at}
    res = await conn.execute(sa.update(t.nodes).where(t.nodes.c.name == name).values(**values))
    if res.rowcount == 0:
        await conn.execute(sa.insert(t.nodes).values(name=name, **values))


async def renew_leases(conn: AsyncConnection, *, name: str, until: float) -> int:
    """Push out the expiry of every lease this node holds on an attempt still being sent."""
    a = t.attempts.c
    res = await conn.execute(
        sa.update(t.attempts)
        .where(a.lease_node == name, a.state == DeliveryState.SENDING, a.closed_reason.is_(None))
        .values(lease_expires_at=until)
    )
    return int(res.rowcount or 0)


async def give_up_leases(conn: AsyncConnection, *, name: str, ids: Sequence[int], now: float) -> None:
    """Let the leases on these attempts lapse now: this node stopped their sends (fenced), and
    any node hosting the channel takes them over. Only leases this node still holds."""
    if not ids:
        return
    a = t.attempts.c
    await conn.execute(
        sa.update(t.attempts)
        .where(a.id.in_(sorted(ids)), a.lease_node == name, a.state == DeliveryState.SENDING)
        .values(lease_expires_at=now)
    )


async def list_nodes(conn: AsyncConnection, *, now: float) -> list[NodeRow]:
    a = t.attempts.c
    held = (
        sa.select(a.lease_node, sa.func.count().label("n"))
        .where(a.state == DeliveryState.SENDING, a.closed_reason.is_(None), a.lease_expires_at > now)
        .group_by(a.lease_node)
    )
    counts = {r.lease_node: int(r.n) for r in await conn.execute(held)}
    rows = await conn.execute(sa.select(t.nodes).order_by(t.nodes.c.name))
    return [
        NodeRow(
            name=r.name,
            started_at=r.started_at,
            heartbeat_at=r.heartbeat_at,
            hosts=list(r.hosts),
            api_url=r.api_url,
            leases=counts.get(r.name, 0),
        )
        for r in rows
    ]


async def live_hosts(conn: AsyncConnection, *, now: float, lease_seconds: float) -> dict[str, set[str]]:
    """channel -> the live nodes that host it (a heartbeat younger than the lease)."""
    rows = await conn.execute(sa.select(t.nodes).where(t.nodes.c.heartbeat_at > now - lease_seconds))
    out: dict[str, set[str]] = {}
    for r in rows:
        for channel in r.hosts:
            out.setdefault(channel, set()).add(r.name)
    return out


async def timers_holder(conn: AsyncConnection, *, key: int) -> str | None:
    """The node whose session holds the timers lock (pg_locks splits a bigint advisory key into
    classid, the high 32 bits, and objid, the low 32 bits; PostgreSQL manual, "pg_locks")."""
    row = (
        await conn.execute(
            sa.text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :hi AND l.objid = :lo"
            ),
            {"hi": key >> 32, "lo": key & 0xFFFFFFFF},
        )
    ).first()
    return str(row[0]).removeprefix("callout-timers-") if row else None
