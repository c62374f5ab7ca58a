"""The assembled gateway: store, channels, engine and services, built from settings.

`Gateway` is an async context manager (it owns the store and the channels); `run()` is the
daemon's work, one TaskGroup of named tasks, until cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import random
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Self

from adapters.backoff import reconnect_delays
from adapters.base import Channel, HealthState
from adapters.cti import CtiSource
from gateway.bus import Bus
from gateway.clock import Clock, SystemClock
from gateway.cluster.events import ClusterEvents
from gateway.cluster.heartbeat import Heartbeat
from gateway.cluster.leases import Leases
from gateway.cluster.timers import TimerLock
from gateway.domain.models import Endpoint, Resource, Stakeholder
from gateway.engine import DeliveryEngine
from gateway.engine.journal import open_journal
from gateway.maintenance import MaintenanceCalendar, MaintenanceService, windows_from_config
from gateway.metrics import Metrics
from gateway.schedules import schedules_from_config
from gateway.services.acks import AckService
from gateway.services.callout import CalloutService
from gateway.services.core import Core
from gateway.services.cti import CtiService
from gateway.services.dispatch import DispatchService
from gateway.services.escalation import EscalationService
from gateway.services.field import FieldEvents
from gateway.services.incidents import IncidentService
from gateway.services.merge import MergeService
from gateway.services.positions import PositionService
from gateway.services.practice import PracticeService
from gateway.services.privacy import PrivacyService
from gateway.services.stand_down import StandDownService
from gateway.services.survey import SurveyService
from gateway.services.unit_status import UnitStatusService
from gateway.services.updates import StakeholderUpdates
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.notify import ResourceNotifications

log = logging.getLogger(__name__)
HEALTH_VALUE = {HealthState.UP: 1.0, HealthState.DEGRADED: 0.5, HealthState.DOWN: 0.0}


def build_channels(settings: Settings) -> dict[str, Channel]:
    from adapters.registry import factory

    return {c.name: factory(c.kind)(c.name, c.options, c.max_length) for c in settings.hosted_channels()}


def build_cti_sources(settings: Settings) -> dict[str, CtiSource]:
    from adapters.registry import cti_factory

    return {s.name: cti_factory(s.kind)(s.name, s.options) for s in settings.cti.sources if s.enabled}


class Gateway:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        channels: Mapping[str, Channel] | None = None,
        cti_sources: Mapping[str, CtiSource] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.bus = Bus()
        self.metrics = metrics or Metrics()
        self._given_channels = channels
        self._given_cti = cti_sources
        self.channels: dict[str, Channel] = {}
        self.cti_sources: dict[str, CtiSource] = {}
        self.store = Store(
            settings.store.resolved_url(),
            bus=self.bus,
            clock=self.clock,
            echo=settings.store.echo,
            sqlite_synchronous=settings.store.sqlite_synchronous,
            session_settings=_cluster_session(settings),
        )
        self._stack = AsyncExitStack()
        self.ready = asyncio.Event()
        self.heartbeat: Heartbeat | None = None  # with [node]: this node's row in the cluster
        self.timers: TimerLock | None = None  # with [node]: who runs the one-of-a-kind timers

    async def __aenter__(self) -> Self:
        await self._stack.__aenter__()
        try:
            await self.store.open()
            self._stack.push_async_callback(self.store.close)
            channels = (
                dict(self._given_channels)
                if self._given_channels is not None
                else build_channels(self.settings)
            )
            if self.settings.node.clustered:
                self.heartbeat = Heartbeat(
                    store=self.store, settings=self.settings.node, clock=self.clock, hosts=list(channels)
                )
                await self.heartbeat.beat_once()  # the other nodes see this one before it claims work
            self._health_feeds = {name: ch.health_changes() for name, ch in channels.items()}
            timeouts = {c.name: c.send_timeout for c in self.settings.channels if c.send_timeout is not None}
            leases = (
                Leases(
                    store=self.store,
                    settings=self.settings.node,
                    clock=self.clock,
                    hosts=list(channels),
                    configured=[c.name for c in self.settings.channels],
                    fence=self.heartbeat.fence if self.heartbeat is not None else None,
                )
                if self.settings.node.clustered
                else None
            )
            self.engine = DeliveryEngine(
                leases=leases,
                send_timeouts=timeouts,
                store=self.store,
                channels=channels,
                settings=self.settings.delivery,
                clock=self.clock,
                metrics=self.metrics,
                journal=open_journal(self.settings),
            )
            if self.engine.journal is not None:
                self._stack.callback(self.engine.journal.close)
            self.core = Core(
                settings=self.settings,
                store=self.store,
                engine=self.engine,
                clock=self.clock,
                metrics=self.metrics,
                stakeholders=_stakeholders(self.settings),
                maintenance=MaintenanceCalendar(windows_from_config(self.settings.maintenance)),
                schedules=schedules_from_config(self.settings.schedules),
            )
            # Planned works count as down for the engine (gateway/maintenance.py).
            calendar, clock = self.core.maintenance, self.clock
            self.engine.in_service = lambda name: calendar.window_for("channel", name, clock.now()) is None
            self.maintenance = MaintenanceService(
                store=self.store, clock=self.clock, calendar=self.core.maintenance
            )
            await self.maintenance.load()
            self.core.index_resources(await self._seed_resources())
            self.store.resource_listeners.append(self.core.directory.put)
            self.store.on_retry = self.metrics.store_retries.inc
            self._wire_services(leases)
            for ch in channels.values():
                await self._enter_channel(ch)
            self.channels = channels
            sources = (
                dict(self._given_cti) if self._given_cti is not None else build_cti_sources(self.settings)
            )
            for src in sources.values():
                await self._stack.enter_async_context(src)
            self.cti_sources = sources
        except BaseException:
            await self._stack.__aexit__(None, None, None)
            raise
        return self

    def _wire_services(self, leases: Leases | None) -> None:
        """The core's services, and the hooks between them."""
        self.incidents = IncidentService(self.core)
        self.units = UnitStatusService(self.core, self.incidents)
        self.dispatch = DispatchService(self.core, self.incidents, self.units)
        self.callout = CalloutService(self.core, self.dispatch)
        self.acks = AckService(self.core, self.incidents, self.units)
        self.stand_down = StandDownService(self.core, self.incidents, self.units)
        self.merge = MergeService(self.core, self.incidents, self.units)
        self.positions = PositionService(self.core)
        self.field = FieldEvents(self.core, self.acks, self.units, self.positions)
        self.escalation = EscalationService(self.core, self.dispatch)
        self.cti = CtiService(self.core, self.incidents)
        self.privacy = PrivacyService(self.settings, self.store, self.clock)
        self.practice = PracticeService(self.core, self.incidents)
        self.updates = StakeholderUpdates(self.core, self.dispatch)
        self.survey = SurveyService(self.core)
        self.incidents.on_transition += [self.updates.on_transition, self.survey.on_transition]
        self.field.from_others = self.survey.on_text
        self.engine.resolve_address = self.survey.caller_address
        if leases is not None:
            self.timers = TimerLock(store=self.store, settings=self.settings.node)
            leases.leader = self.escalation.leader = self.timers.is_held
            self.updates.leader = self.survey.leader = self.timers.is_held

    async def _enter_channel(self, ch: Channel) -> None:
        """A channel that cannot start is reported down; the engine falls back around it."""
        try:
            await self._stack.enter_async_context(ch)
        except Exception as exc:
            log.exception("channel %s failed to start", ch.name)
            ch.set_health(HealthState.DOWN, f"failed to start: {exc}")

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.__aexit__(et, e, tb)

    async def _watch_health(self, ch: Channel) -> None:
        """Health changes are logged, exported and audited (reviews show channel outages)."""
        feed = self._health_feeds[ch.name]
        try:
            async for health in feed:
                self.metrics.channel_up.labels(ch.name).set(HEALTH_VALUE[health.state])
                log.info(
                    "channel %s is %s%s",
                    ch.name,
                    health.state.value,
                    f": {health.reason}" if health.reason else "",
                )
                async with self.store.write() as tx:
                    await tx.record(
                        "channel.health",
                        data={"channel": ch.name, "state": health.state.value, "reason": health.reason},
                    )
        finally:
            feed.close()

    async def _seed_resources(self) -> list[Resource]:
        """Resources come from config; their live status stays in the store across restarts."""
        now = self.clock.now()
        async with self.store.write() as tx:
            existing = {r.id: r for r in await tx.list_resources()}
            for rc in self.settings.resources:
                plan = [Endpoint(e.channel, e.address, e.max_length) for e in rc.contact_plan]
                if rc.id in existing:
                    r = existing[rc.id]
                    r.name, r.capabilities, r.contact_plan, r.priorities = (
                        rc.name or rc.id,
                        rc.capabilities,
                        plan,
                        rc.priorities,
                    )
                    await tx.update_resource(r)
                else:
                    r = Resource(
                        id=rc.id,
                        name=rc.name or rc.id,
                        capabilities=rc.capabilities,
                        contact_plan=plan,
                        priorities=rc.priorities,
                        status_since=now,
                    )
                    await tx.insert_resource(r)
                    await tx.record("unit.registered", data={"resource": r.id, "status": r.status.value})
            return await tx.list_resources()

    async def run(
        self, *, extra: Mapping[str, Callable[[], Coroutine[Any, Any, None]]] | None = None
    ) -> None:
        """The daemon's work until cancelled: engine, escalation, one inbound pump per channel."""
        async with asyncio.TaskGroup() as tg:
            self._keep(tg, "engine", self.engine.run)
            self._keep(tg, "escalation", self.escalation.run)
            self._keep(tg, "stakeholder-updates", self.updates.run)
            self._keep(tg, "survey", self.survey.run)
            self._keep(tg, "privacy.purge", self.privacy.run)
            if self.heartbeat is not None:
                self._keep(tg, "cluster.heartbeat", self.heartbeat.run)
                self._keep(tg, "cluster.fence", self.heartbeat.fence.run)
            if self.timers is not None:
                self._keep(tg, "cluster.timers", self.timers.run)
                events = ClusterEvents(store=self.store, bus=self.bus, poke=self.engine.poke)
                self._keep(tg, "cluster.events", events.run)
            for ch in self.channels.values():
                self._keep(tg, f"health.{ch.name}", functools.partial(self._watch_health, ch))
                self._keep(tg, f"inbound.{ch.name}", functools.partial(self.field.pump, ch))
            if not self.store.is_sqlite:  # units changed by other nodes reach this node's directory
                notes = ResourceNotifications(self.store, self.core.directory.put)
                self._keep(tg, "store.resource-notifications", notes.run)
            for src in self.cti_sources.values():
                self._keep(tg, f"cti.{src.name}", functools.partial(self.cti.pump, src))
            for name, job in (extra or {}).items():
                tg.create_task(job(), name=name)
            # What start-up built (settings, the directory, SQLAlchemy's compiled statements) lives
            # as long as the daemon: out of the collector's way, so a full collection stays short
            # (https://docs.python.org/3/library/gc.html#gc.freeze).
            gc.freeze()
            self.ready.set()

    def _keep(self, tg: asyncio.TaskGroup, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run one of the daemon's loops; if it fails (the store away past every retry, a bug) it is
        logged and started again after a back-off, so one loop never stops the others."""

        async def supervised() -> None:
            pauses = reconnect_delays(first=0.5, cap=10.0, jitter=0.2, rng=random.Random())
            while True:
                try:
                    await work()
                    return
                except Exception:
                    log.exception("%s failed; starting it again", name)
                await asyncio.sleep(next(pauses))

        tg.create_task(supervised(), name=name)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run in the background for the body of a `with` (tests, benchmarks, the demo). If the
        gateway's work fails, the body is cancelled and the failure raised from the `with`."""
        failure: Exception | None = None
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(self.run(), name="gateway")
            await self.ready.wait()
            try:
                yield
            except Exception as exc:  # the body's own error leaves as it is, not in a group
                failure = exc
            finally:
                task.cancel()
        if failure is not None:
            raise failure


def _stakeholders(settings: Settings) -> list[Stakeholder]:
    return [
        Stakeholder(
            id=s.id,
            name=s.name or s.id,
            groups=s.groups,
            contact_plan=[Endpoint(e.channel, e.address, e.max_length) for e in s.contact_plan],
        )
        for s in settings.stakeholders
    ]


def _cluster_session(settings: Settings) -> dict[str, str]:
    """Several nodes: a session left idle inside a transaction for a lease (its node cut off
    mid-transaction) is ended by the server, so the rows it locked are taken over with its leases
    (PostgreSQL manual, "idle_in_transaction_session_timeout", in milliseconds)."""
    if not settings.node.clustered:
        return {}
    return {"idle_in_transaction_session_timeout": str(int(settings.node.lease_seconds * 1000))}
