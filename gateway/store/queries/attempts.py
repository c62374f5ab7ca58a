"""Attempts: one try of a delivery on one endpoint; the outbox the engine works from."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa

from gateway.domain.models import Attempt
from gateway.domain.states import DeliveryState
from gateway.store import rows
from gateway.store import schema as t
from gateway.store.unit_of_work import UnitOfWork

_A = t.attempts.c
_OPEN = _A.closed_reason.is_(None)
_WAITING = (DeliveryState.PENDING, DeliveryState.FAILED_TEMPORARY)
_BY_IDS = sa.select(t.attempts).where(_A.id.in_(sa.bindparam("ids", expanding=True)))
_FOR_DELIVERIES = (
    sa.select(t.attempts).where(_A.delivery_id.in_(sa.bindparam("ids", expanding=True))).order_by(_A.id)
)
_BY_REFS = (
    sa.select(t.attempts)
    .where(_A.channel == sa.bindparam("channel"), _A.channel_ref.in_(sa.bindparam("refs", expanding=True)))
    .order_by(_A.id)
)
_DUE = (
    sa.select(t.attempts)
    .join(t.deliveries, t.deliveries.c.id == _A.delivery_id)
    .where(
        _OPEN,
        _A.state.in_(_WAITING),
        sa.or_(_A.next_try_at.is_(None), _A.next_try_at <= sa.bindparam("now")),
    )
    .order_by(t.deliveries.c.priority, _A.id)
    .limit(sa.bindparam("limit"))
)
# (only on some channels, locking the deliveries with SKIP LOCKED): the claim loop of several nodes
_DUE_VARIANTS = {
    (on_channels, locked): (q.with_for_update(skip_locked=True, of=t.deliveries) if locked else q)
    for on_channels in (False, True)
    for q in [_DUE.where(_A.channel.in_(sa.bindparam("channels", expanding=True))) if on_channels else _DUE]
    for locked in (False, True)
}
_EXPIRED = sa.select(t.attempts).where(
    _OPEN,
    sa.or_(
        sa.and_(_A.state == DeliveryState.SENT, _A.confirm_deadline_at <= sa.bindparam("now")),
        sa.and_(
            _A.state.in_((DeliveryState.SENT, DeliveryState.DELIVERED)),
            _A.ack_deadline_at <= sa.bindparam("now"),
        ),
    ),
)
_NEXT_WAKEUP = sa.select(
    sa.func.min(sa.case((_A.state.in_(_WAITING), _A.next_try_at))),
    sa.func.min(sa.case((_A.state == DeliveryState.SENT, _A.confirm_deadline_at))),
    sa.func.min(sa.case((_A.state.in_((DeliveryState.SENT, DeliveryState.DELIVERED)), _A.ack_deadline_at))),
).where(_OPEN)


class AttemptQueries(UnitOfWork):
    async def insert_attempt(self, a: Attempt) -> Attempt:
        a.id = await self._insert(t.attempts, rows.attempt_to_row(a))
        return a

    async def update_attempt(self, a: Attempt) -> None:
        self._queue_update(t.attempts, a.id, rows.attempt_to_row(a))

    async def attempts_by_ids(self, ids: Collection[int]) -> list[Attempt]:
        if not ids:
            return []
        res = await self._run(_BY_IDS, {"ids": sorted(ids)})
        return [rows.attempt_from_row(r._mapping) for r in res]

    async def attempts_by_delivery(self, delivery_ids: Collection[int]) -> dict[int, list[Attempt]]:
        """Every attempt of these deliveries, grouped, in order (one query for a whole batch)."""
        out: dict[int, list[Attempt]] = {d: [] for d in delivery_ids}
        for a in await self.attempts_for(sorted(delivery_ids)):
            out[a.delivery_id].append(a)
        return out

    async def attempts_for(self, delivery_ids: Sequence[int]) -> list[Attempt]:
        if not delivery_ids:
            return []
        res = await self._run(_FOR_DELIVERIES, {"ids": list(delivery_ids)})
        return [rows.attempt_from_row(r._mapping) for r in res]

    async def attempts_by_channel_refs(self, channel: str, refs: Collection[str]) -> dict[str, Attempt]:
        """The newest attempt on `channel` for each reference (receipts quote these)."""
        if not refs:
            return {}
        res = await self._run(_BY_REFS, {"channel": channel, "refs": sorted(refs)})
        out: dict[str, Attempt] = {}
        for r in res:
            a = rows.attempt_from_row(r._mapping)
            out[a.channel_ref or ""] = a  # ordered by id: the newest wins
        return out

    async def due_attempts(
        self, now: float, limit: int, channels: Collection[str] | None = None, *, skip_locked: bool = False
    ) -> list[Attempt]:
        """Open attempts waiting to be sent whose time has come, most urgent first; `channels`: only
        on these. `skip_locked` (several nodes, PostgreSQL): their deliveries are locked for this
        transaction, and a delivery another transaction holds is skipped, not waited for (`FOR
        UPDATE OF deliveries SKIP LOCKED`, PostgreSQL manual, SELECT, "The Locking Clause"), so two
        nodes claim disjoint work and a delivery is always locked before its attempts change."""
        locked = skip_locked and self.conn.dialect.name == "postgresql"
        params: dict[str, Any] = {"now": now, "limit": limit}
        if channels is not None:
            params["channels"] = sorted(channels)
        res = await self._run(_DUE_VARIANTS[channels is not None, locked], params)
        return [rows.attempt_from_row(r._mapping) for r in res]

    async def attempts_in_state(self, state: DeliveryState) -> list[Attempt]:
        res = await self._run(
            sa.select(t.attempts).where(t.attempts.c.closed_reason.is_(None), t.attempts.c.state == state)
        )
        return [rows.attempt_from_row(r._mapping) for r in res]

    async def expired_waits(self, now: float) -> list[Attempt]:
        """Open attempts whose delivery-confirmation or acknowledgement deadline has passed."""
        res = await self._run(_EXPIRED, {"now": now})
        return [rows.attempt_from_row(r._mapping) for r in res]

    async def next_wakeup(self) -> float | None:
        """The earliest retry time or deadline among open attempts, in one query."""
        row = (await self._run(_NEXT_WAKEUP)).one()
        present = [x for x in row if x is not None]
        return min(present) if present else None
