"""One data-access layer for SQLite (WAL, the embedded default) and PostgreSQL.

`Store.write()` opens a transaction; everything a service does in it commits together or not at
all, and the audit events it recorded are published on the bus only after the commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway.bus import Bus, BusEvent
from gateway.clock import Clock
from gateway.domain.models import Attempt, Delivery, Dispatch, Incident, Resource
from gateway.domain.states import DeliveryState
from gateway.errors import NotFound
from gateway.store import rows
from gateway.store import schema as t

MIGRATIONS = Path(__file__).parent / "migrations"
# Statements built once: values travel as execute() parameters, so each call is a compiled-cache
# hit with no per-value expression building (the hot path of the outbox).
_TABLES = (t.incidents, t.resources, t.dispatches, t.deliveries, t.attempts, t.audit)
_INSERT = {tb.name: tb.insert().returning(tb.c.id) for tb in _TABLES}
_UPDATE = {tb.name: tb.update().where(tb.c.id == sa.bindparam("key_id")) for tb in _TABLES}
_INSERT_AUDIT_MANY = t.audit.insert().returning(t.audit.c.id, sort_by_parameter_order=True)
_OPEN_INCIDENTS = ("new", "triaged", "dispatched", "acknowledged", "on_scene")


def _run_migrations(sync_conn: sa.Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


class Store:
    def __init__(self, url: str, *, bus: Bus, clock: Clock, echo: bool = False) -> None:
        self.url = url
        self.bus = bus
        self.clock = clock
        self._echo = echo
        self._engine: AsyncEngine | None = None
        self._write_lock = asyncio.Lock()
        self.is_sqlite = url.startswith("sqlite")
        self.references: dict[int, str] = {}

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("store is not open")
        return self._engine

    async def open(self) -> None:
        if self.is_sqlite:
            db_path = self.url.split("///", 1)[-1]
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(self.url, echo=self._echo)
        if self.is_sqlite:
            _sqlite_pragmas(engine)
        self._engine = engine
        async with engine.begin() as conn:
            await conn.run_sync(_run_migrations)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        """A read-write transaction. SQLite allows one writer, so writers queue here, not in a busy loop."""
        async with self._write_lock if self.is_sqlite else _nullcontext(), self.engine.begin() as conn:
            tx = Tx(conn, self)
            yield tx
            await tx.flush()
        for event in tx.events:
            self.bus.publish(event)
        for callback in tx.committed:
            callback()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        async with self.engine.connect() as conn:
            yield Tx(conn, self)


@asynccontextmanager
async def _nullcontext() -> AsyncIterator[None]:
    yield


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()


@dataclass(slots=True)
class Batch:
    deliveries: dict[int, Delivery]  # by id
    attempts: dict[int, list[Attempt]]  # every attempt of each delivery, by delivery id
    by_id: dict[int, Attempt]  # the same attempt objects, by attempt id


class Tx:
    """Queries and changes inside one transaction.

    A unit of work: updates of attempts and deliveries and new audit rows are queued and written
    in batches (one executemany per table) when the transaction needs them: before any read or
    immediate write, and at commit. Reads therefore always see the transaction's own changes,
    while a batch of transitions that loaded its rows first costs a handful of round trips.
    """

    def __init__(self, conn: AsyncConnection, store: Store) -> None:
        self.conn = conn
        self.store = store
        self.events: list[BusEvent] = []
        self.committed: list[Callable[[], None]] = []  # run once the transaction has committed
        self._pending: dict[str, dict[Any, dict[str, Any]]] = {
            "incidents": {},
            "resources": {},
            "attempts": {},
            "deliveries": {},
        }
        self._audit: list[tuple[dict[str, Any], str | None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this transaction has committed (not at all if it rolls back)."""
        self.committed.append(callback)

    async def flush(self) -> None:
        for table, rows_by_key in self._pending.items():
            if rows_by_key:
                params = [{**values, "key_id": key} for key, values in rows_by_key.items()]
                rows_by_key.clear()
                await self.conn.execute(_UPDATE[table], params)
        if self._audit:
            pending, self._audit = self._audit, []
            if len(pending) == 1:
                ids = [(await self.conn.execute(_INSERT["audit"], pending[0][0])).scalar_one()]
            elif self.store.is_sqlite:
                # SQLite runs executemany with RETURNING row by row; without it, one batch. Writers
                # are serialised (Store.write), so the newest rows are this batch, in order.
                await self.conn.execute(t.audit.insert(), [row for row, _ in pending])
                newest = sa.select(t.audit.c.id).order_by(t.audit.c.id.desc()).limit(len(pending))
                ids = sorted((await self.conn.execute(newest)).scalars())
            else:
                result = await self.conn.execute(_INSERT_AUDIT_MANY, [row for row, _ in pending])
                ids = list(result.scalars())
            for audit_id, (row, ref) in zip(ids, pending, strict=True):
                self.events.append(
                    BusEvent(
                        kind=row["kind"],
                        at=row["at"],
                        data={**row["data"], "actor": row["actor"]},
                        incident=ref,
                        audit_id=audit_id,
                    )
                )

    async def _run(self, statement: sa.Executable) -> sa.CursorResult[Any]:
        """Execute a statement after the queued writes, so it sees them."""
        await self.flush()
        return await self.conn.execute(statement)

    async def _insert(self, table: sa.Table, values: dict[str, Any]) -> Any:
        await self.flush()
        return (await self.conn.execute(_INSERT[table.name], values)).scalar_one()

    def _queue_update(self, table: sa.Table, key: Any, values: dict[str, Any]) -> None:
        self._pending[table.name][key] = values

    # ---- audit ------------------------------------------------------------------------------
    async def record(
        self,
        kind: str,
        *,
        incident: Incident | None = None,
        incident_id: int | None = None,
        delivery_id: int | None = None,
        attempt_id: int | None = None,
        actor: str = "system",
        data: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> None:
        """Append to the audit trail (queued; written with the transaction) and publish the event
        on the bus once the transaction commits."""
        when = self.store.clock.now() if at is None else at
        payload = dict(data or {})
        ref: str | None = None
        if incident is not None:
            incident_id, ref = incident.id, incident.reference
        elif incident_id is not None:
            ref = await self.reference_of(incident_id)
        row = {
            "at": when,
            "kind": kind,
            "actor": actor,
            "incident_id": incident_id,
            "delivery_id": delivery_id,
            "attempt_id": attempt_id,
            "data": payload,
        }
        self._audit.append((row, ref))

    async def reference_of(self, incident_id: int) -> str:
        """An incident's reference; references never change, so the store caches them."""
        ref = self.store.references.get(incident_id)
        if ref is None:
            ref = (
                await self._run(sa.select(t.incidents.c.reference).where(t.incidents.c.id == incident_id))
            ).scalar_one()
            self.store.references[incident_id] = ref
        return ref

    async def audit_for_incident(self, incident_id: int) -> list[dict[str, Any]]:
        res = await self._run(
            sa.select(t.audit).where(t.audit.c.incident_id == incident_id).order_by(t.audit.c.id)
        )
        return [dict(r._mapping) for r in res]

    async def audit_since(self, after_id: int, limit: int = 500) -> list[dict[str, Any]]:
        res = await self._run(
            sa.select(t.audit, t.incidents.c.reference)
            .select_from(t.audit.outerjoin(t.incidents, t.audit.c.incident_id == t.incidents.c.id))
            .where(t.audit.c.id > after_id)
            .order_by(t.audit.c.id)
            .limit(limit)
        )
        return [dict(r._mapping) for r in res]

    # ---- references -------------------------------------------------------------------------
    async def next_value(self, name: str) -> int:
        dialect = self.conn.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            ins: Any = pg_insert(t.sequences).values(name=name, value=0).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            ins = sqlite_insert(t.sequences).values(name=name, value=0).on_conflict_do_nothing()
        await self.conn.execute(ins)
        res = await self.conn.execute(
            sa.update(t.sequences)
            .where(t.sequences.c.name == name)
            .values(value=t.sequences.c.value + 1)
            .returning(t.sequences.c.value)
        )
        return int(res.scalar_one())

    # ---- incidents --------------------------------------------------------------------------
    async def insert_incident(self, incident: Incident) -> Incident:
        incident.id = await self._insert(t.incidents, rows.incident_to_row(incident))
        return incident

    async def update_incident(self, incident: Incident) -> None:
        self._queue_update(t.incidents, incident.id, rows.incident_to_row(incident))

    async def incidents_by_ids(self, ids: Collection[int]) -> dict[int, Incident]:
        if not ids:
            return {}
        res = await self._run(sa.select(t.incidents).where(t.incidents.c.id.in_(sorted(ids))))
        return {i.id: i for i in (rows.incident_from_row(r._mapping) for r in res)}

    async def get_incident(self, key: int | str, *, for_update: bool = False) -> Incident:
        col = t.incidents.c.reference if isinstance(key, str) else t.incidents.c.id
        q = sa.select(t.incidents).where(col == key)
        if for_update and self.conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = (await self._run(q)).first()
        if row is None:
            raise NotFound("incident", key)
        return rows.incident_from_row(row._mapping)

    async def list_incidents(
        self,
        *,
        states: Sequence[str] = (),
        priorities: Sequence[str] = (),
        categories: Sequence[str] = (),
        limit: int = 100,
        offset: int = 0,
    ) -> list[Incident]:
        q = sa.select(t.incidents)
        if states:
            q = q.where(t.incidents.c.state.in_(states))
        if priorities:
            q = q.where(t.incidents.c.priority.in_(priorities))
        if categories:
            q = q.where(t.incidents.c.category.in_(categories))
        # Untriaged first (an untriaged call may be a P1), then P1..P4, oldest first.
        q = q.order_by(t.incidents.c.priority.is_not(None), t.incidents.c.priority, t.incidents.c.created_at)
        res = await self._run(q.limit(limit).offset(offset))
        return [rows.incident_from_row(r._mapping) for r in res]

    async def incident_by_serial(self, serial: int, states: Sequence[str]) -> Incident | None:
        """The incident whose reference ends in this serial (`ACK 42` -> INC-2026-000042), among
        those in `states`, first in the queue's order (untriaged, then priority, then age)."""
        i = t.incidents.c
        q = (
            sa.select(t.incidents)
            .where(i.reference.like(f"INC-%-{serial:06d}"), i.state.in_(states))
            .order_by(i.priority.is_not(None), i.priority, i.created_at)
        )
        for r in await self._run(q):
            inc = rows.incident_from_row(r._mapping)
            if int(inc.reference.rsplit("-", 1)[-1]) == serial:
                return inc
        return None

    async def open_incident_for_caller(self, number: str, since: float) -> Incident | None:
        res = await self._run(
            sa.select(t.incidents)
            .where(
                t.incidents.c.caller_number == number,
                t.incidents.c.created_at >= since,
                t.incidents.c.state.in_(_OPEN_INCIDENTS),
            )
            .order_by(t.incidents.c.created_at.desc())
            .limit(1)
        )
        row = res.first()
        return rows.incident_from_row(row._mapping) if row else None

    async def incident_by_call_id(self, call_id: str) -> Incident | None:
        q = sa.select(t.incidents).where(t.incidents.c.call_id == call_id).order_by(t.incidents.c.id).limit(1)
        row = (await self._run(q)).first()
        return rows.incident_from_row(row._mapping) if row else None

    async def incidents_by_caller(self, number: str, limit: int = 5) -> list[Incident]:
        res = await self._run(
            sa.select(t.incidents)
            .where(t.incidents.c.caller_number == number)
            .order_by(t.incidents.c.created_at.desc())
            .limit(limit)
        )
        return [rows.incident_from_row(r._mapping) for r in res]

    async def incidents_awaiting_ack(self) -> list[Incident]:
        res = await self._run(sa.select(t.incidents).where(t.incidents.c.state == "dispatched"))
        return [rows.incident_from_row(r._mapping) for r in res]

    # ---- resources --------------------------------------------------------------------------
    async def get_resource(self, resource_id: str) -> Resource:
        row = (await self._run(sa.select(t.resources).where(t.resources.c.id == resource_id))).first()
        if row is None:
            raise NotFound("resource", resource_id)
        return rows.resource_from_row(row._mapping)

    async def list_resources(self) -> list[Resource]:
        res = await self._run(sa.select(t.resources).order_by(t.resources.c.id))
        return [rows.resource_from_row(r._mapping) for r in res]

    async def insert_resource(self, resource: Resource) -> None:
        await self.flush()
        await self.conn.execute(t.resources.insert(), rows.resource_to_row(resource))

    async def update_resource(self, resource: Resource) -> None:
        values = rows.resource_to_row(resource)
        del values["id"]
        self._queue_update(t.resources, resource.id, values)

    async def resources_by_ids(self, ids: Collection[str]) -> dict[str, Resource]:
        if not ids:
            return {}
        res = await self._run(sa.select(t.resources).where(t.resources.c.id.in_(sorted(ids))))
        return {r.id: r for r in (rows.resource_from_row(row._mapping) for row in res)}

    # ---- dispatches, deliveries, attempts ----------------------------------------------------
    async def insert_dispatch(self, incident_id: int, *, reason: str, created_by: str) -> Dispatch:
        now = self.store.clock.now()
        dispatch_id = await self._insert(
            t.dispatches,
            {"incident_id": incident_id, "created_at": now, "reason": reason, "created_by": created_by},
        )
        return Dispatch(
            id=dispatch_id, incident_id=incident_id, created_at=now, reason=reason, created_by=created_by
        )

    async def insert_delivery(self, d: Delivery) -> Delivery:
        d.id = await self._insert(t.deliveries, rows.delivery_to_row(d))
        return d

    async def update_delivery(self, d: Delivery) -> None:
        self._queue_update(t.deliveries, d.id, rows.delivery_to_row(d))

    async def get_delivery(self, delivery_id: int) -> Delivery:
        row = (await self._run(sa.select(t.deliveries).where(t.deliveries.c.id == delivery_id))).first()
        if row is None:
            raise NotFound("delivery", delivery_id)
        return rows.delivery_from_row(row._mapping)

    async def deliveries_for_incident(self, incident_id: int) -> list[Delivery]:
        res = await self._run(
            sa.select(t.deliveries)
            .where(t.deliveries.c.incident_id == incident_id)
            .order_by(t.deliveries.c.id)
        )
        return [rows.delivery_from_row(r._mapping) for r in res]

    async def latest_dispatch_delivery(
        self, resource_id: str, incident_id: int | None = None
    ) -> Delivery | None:
        """The newest dispatch message to a resource (the one a bare "ACK" from it refers to)."""
        q = (
            sa.select(t.deliveries)
            .join(t.incidents, t.incidents.c.id == t.deliveries.c.incident_id)
            .where(
                t.deliveries.c.recipient_kind == "resource",
                t.deliveries.c.recipient_id == resource_id,
                t.deliveries.c.purpose == "dispatch",
                t.incidents.c.state.in_(_OPEN_INCIDENTS),
            )
        )
        if incident_id is not None:
            q = q.where(t.deliveries.c.incident_id == incident_id)
        row = (await self._run(q.order_by(t.deliveries.c.id.desc()).limit(1))).first()
        return rows.delivery_from_row(row._mapping) if row else None

    async def insert_attempt(self, a: Attempt) -> Attempt:
        a.id = await self._insert(t.attempts, rows.attempt_to_row(a))
        return a

    async def update_attempt(self, a: Attempt) -> None:
        self._queue_update(t.attempts, a.id, rows.attempt_to_row(a))

    async def deliveries_by_ids(self, ids: Collection[int]) -> dict[int, Delivery]:
        if not ids:
            return {}
        res = await self._run(sa.select(t.deliveries).where(t.deliveries.c.id.in_(sorted(ids))))
        return {d.id: d for d in (rows.delivery_from_row(r._mapping) for r in res)}

    async def attempts_by_ids(self, ids: Collection[int]) -> list[Attempt]:
        if not ids:
            return []
        res = await self._run(sa.select(t.attempts).where(t.attempts.c.id.in_(sorted(ids))))
        return [rows.attempt_from_row(r._mapping) for r in res]

    async def batch_for(self, attempts: Collection[Attempt]) -> Batch:
        """The deliveries of these attempts and all their attempts, loaded once (two queries) so a
        batch of transitions works on one object per row."""
        deliveries = await self.deliveries_by_ids({a.delivery_id for a in attempts})
        grouped = await self.attempts_by_delivery(deliveries.keys())
        return Batch(deliveries, grouped, {a.id: a for group in grouped.values() for a in group})

    async def attempts_by_delivery(self, delivery_ids: Collection[int]) -> dict[int, list[Attempt]]:
        """Every attempt of these deliveries, grouped, in order (one query for a whole batch)."""
        out: dict[int, list[Attempt]] = {d: [] for d in delivery_ids}
        for a in await self.attempts_for(sorted(delivery_ids)):
            out[a.delivery_id].append(a)
        return out

    async def preload_references(self, incident_ids: Collection[int]) -> None:
        missing = sorted(set(incident_ids) - self.store.references.keys())
        if missing:
            res = await self._run(
                sa.select(t.incidents.c.id, t.incidents.c.reference).where(t.incidents.c.id.in_(missing))
            )
            self.store.references.update({r._mapping["id"]: r._mapping["reference"] for r in res})

    async def attempts_for(self, delivery_ids: Sequence[int]) -> list[Attempt]:
        if not delivery_ids:
            return []
        res = await self._run(
            sa.select(t.attempts).where(t.attempts.c.delivery_id.in_(delivery_ids)).order_by(t.attempts.c.id)
        )
        return [rows.attempt_from_row(r._mapping) for r in res]

    async def attempts_by_channel_refs(self, channel: str, refs: Collection[str]) -> dict[str, Attempt]:
        """The newest attempt on `channel` for each reference (receipts quote these)."""
        if not refs:
            return {}
        res = await self._run(
            sa.select(t.attempts)
            .where(t.attempts.c.channel == channel, t.attempts.c.channel_ref.in_(sorted(refs)))
            .order_by(t.attempts.c.id)
        )
        out: dict[str, Attempt] = {}
        for r in res:
            a = rows.attempt_from_row(r._mapping)
            out[a.channel_ref or ""] = a  # ordered by id: the newest wins
        return out

    async def due_attempts(self, now: float, limit: int) -> list[Attempt]:
        """Open attempts waiting to be sent whose time has come, most urgent first."""
        res = await self._run(
            sa.select(t.attempts)
            .join(t.deliveries, t.deliveries.c.id == t.attempts.c.delivery_id)
            .where(
                t.attempts.c.closed_reason.is_(None),
                t.attempts.c.state.in_((DeliveryState.PENDING, DeliveryState.FAILED_TEMPORARY)),
                sa.or_(t.attempts.c.next_try_at.is_(None), t.attempts.c.next_try_at <= now),
            )
            .order_by(t.deliveries.c.priority, t.attempts.c.id)
            .limit(limit)
        )
        return [rows.attempt_from_row(r._mapping) for r in res]

    async def attempts_in_state(self, state: DeliveryState) -> list[Attempt]:
        res = await self._run(
            sa.select(t.attempts).where(t.attempts.c.closed_reason.is_(None), t.attempts.c.state == state)
        )
        return [rows.attempt_from_row(r._mapping) for r in res]

    async def expired_waits(self, now: float) -> list[Attempt]:
        """Open attempts whose delivery-confirmation or acknowledgement deadline has passed."""
        a = t.attempts.c
        res = await self._run(
            sa.select(t.attempts).where(
                a.closed_reason.is_(None),
                sa.or_(
                    sa.and_(a.state == DeliveryState.SENT, a.confirm_deadline_at <= now),
                    sa.and_(
                        a.state.in_((DeliveryState.SENT, DeliveryState.DELIVERED)), a.ack_deadline_at <= now
                    ),
                ),
            )
        )
        return [rows.attempt_from_row(r._mapping) for r in res]

    async def stalled_deliveries(self) -> list[Delivery]:
        """Open deliveries with no open attempt: the next step has not been taken yet."""
        open_attempt = (
            sa.select(t.attempts.c.id)
            .where(t.attempts.c.delivery_id == t.deliveries.c.id, t.attempts.c.closed_reason.is_(None))
            .exists()
        )
        res = await self._run(
            sa.select(t.deliveries).where(t.deliveries.c.completed_at.is_(None), ~open_attempt)
        )
        return [rows.delivery_from_row(r._mapping) for r in res]

    async def next_wakeup(self) -> float | None:
        """The earliest retry time or deadline among open attempts, in one query."""
        a = t.attempts.c
        waiting = sa.case(
            (a.state.in_((DeliveryState.PENDING, DeliveryState.FAILED_TEMPORARY)), a.next_try_at)
        )
        confirm = sa.case((a.state == DeliveryState.SENT, a.confirm_deadline_at))
        ack = sa.case((a.state.in_((DeliveryState.SENT, DeliveryState.DELIVERED)), a.ack_deadline_at))
        row = (
            await self._run(
                sa.select(sa.func.min(waiting), sa.func.min(confirm), sa.func.min(ack)).where(
                    a.closed_reason.is_(None)
                )
            )
        ).one()
        present = [x for x in row if x is not None]
        return min(present) if present else None

    async def incident_times_since(self, since: float) -> Sequence[sa.Row[Any]]:
        """(priority, state, created_at, dispatched_at, acknowledged_at, on_scene_at) per incident
        created since `since`: what the KPI view measures response times from."""
        i = t.incidents.c
        q = sa.select(i.priority, i.state, i.created_at, i.dispatched_at, i.acknowledged_at, i.on_scene_at)
        return (await self._run(q.where(i.created_at >= since))).all()

    async def attempt_outcomes_since(self, since: float) -> Sequence[sa.Row[Any]]:
        """(channel, state, closed_reason) of every attempt for incidents created since `since`."""
        a = t.attempts.c
        joined = t.attempts.join(t.deliveries, t.deliveries.c.id == a.delivery_id).join(
            t.incidents, t.incidents.c.id == t.deliveries.c.incident_id
        )
        q = sa.select(a.channel, a.state, a.closed_reason).select_from(joined)
        return (await self._run(q.where(t.incidents.c.created_at >= since))).all()
