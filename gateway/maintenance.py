"""Maintenance windows (planned works) per channel or resource.

During a window a channel counts as down for the delivery engine — its endpoints are skipped
and the ladder moves on — without its health changing, so no `channel.health` alarm is raised
for works everyone knows about; a resource in a window is not recommended. Windows come from
config (`[[maintenance]]`) and from the API; the API's are audited (`maintenance.created`,
`maintenance.ended`) and rebuilt from the audit trail at start, so they survive a restart.

`MaintenanceCalendar` is pure (times are passed in, docs/style.md practice 7); the service that
audits changes is `MaintenanceService`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from gateway.clock import Clock
from gateway.errors import NotFound, ValidationFailed
from gateway.store import Store

Target = Literal["channel", "resource"]
CREATED, ENDED = "maintenance.created", "maintenance.ended"


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    id: str
    target: Target
    name: str  # the channel's name or the resource's id
    starts_at: float  # POSIX seconds
    ends_at: float
    reason: str = ""
    source: str = "config"  # config or api

    def covers(self, at: float) -> bool:
        return self.starts_at <= at < self.ends_at


class MaintenanceCalendar:
    def __init__(self, windows: Iterable[MaintenanceWindow] = ()) -> None:
        self._windows: dict[str, MaintenanceWindow] = {w.id: w for w in windows}

    def windows(self) -> list[MaintenanceWindow]:
        return sorted(self._windows.values(), key=lambda w: (w.starts_at, w.id))

    def get(self, window_id: str) -> MaintenanceWindow | None:
        return self._windows.get(window_id)

    def put(self, window: MaintenanceWindow) -> None:
        self._windows[window.id] = window

    def remove(self, window_id: str) -> None:
        self._windows.pop(window_id, None)

    def window_for(self, target: Target, name: str, at: float) -> MaintenanceWindow | None:
        return next(
            (w for w in self.windows() if w.target == target and w.name == name and w.covers(at)), None
        )

    def resources_out(self, at: float) -> set[str]:
        return {w.name for w in self._windows.values() if w.target == "resource" and w.covers(at)}


class MaintenanceService:
    def __init__(self, *, store: Store, clock: Clock, calendar: MaintenanceCalendar) -> None:
        self.store = store
        self.clock = clock
        self.calendar = calendar

    async def load(self) -> None:
        """Rebuild the API's windows from the audit trail (config windows are already there)."""
        async with self.store.read() as tx:
            events = await tx.audit_of_kinds((CREATED, ENDED))
        now = self.clock.now()
        for e in events:
            data: dict[str, Any] = e["data"] or {}
            if e["kind"] == CREATED:
                window = _from_dict(data)
                if window is not None and window.ends_at > now:
                    self.calendar.put(window)
            else:
                ended = self.calendar.get(str(data.get("id", "")))
                if ended is not None:
                    self.calendar.put(replace(ended, ends_at=float(data.get("ended_at", now))))

    async def create(
        self,
        *,
        target: Target,
        name: str,
        starts_at: float,
        ends_at: float,
        reason: str,
        actor: str,
        known: set[str],
    ) -> MaintenanceWindow:
        if name not in known:
            raise ValidationFailed({target: f"no {target} named {name!r}"})
        if ends_at <= starts_at:
            raise ValidationFailed({"ends_at": "must be after starts_at"})
        async with self.store.write() as tx:
            window = MaintenanceWindow(
                id=f"mw-{int(self.clock.now() * 1000):x}-{len(self.calendar.windows())}",
                target=target, name=name, starts_at=starts_at, ends_at=ends_at, reason=reason, source="api",
            )  # fmt: skip
            await tx.record(CREATED, actor=actor, data=asdict(window))
        self.calendar.put(window)
        return window

    async def end(self, window_id: str, *, actor: str) -> MaintenanceWindow:
        """End a window now (or drop one that has not begun)."""
        window = self.calendar.get(window_id)
        if window is None:
            raise NotFound("maintenance window", window_id)
        now = self.clock.now()
        ended = replace(window, ends_at=max(window.starts_at, min(window.ends_at, now)))
        async with self.store.write() as tx:
            await tx.record(ENDED, actor=actor, data={"id": window_id, "ended_at": ended.ends_at})
        self.calendar.put(ended)
        return ended


def _from_dict(data: dict[str, Any]) -> MaintenanceWindow | None:
    try:
        target: Target = "channel" if data["target"] == "channel" else "resource"
        return MaintenanceWindow(
            id=str(data["id"]), target=target, name=str(data["name"]), starts_at=float(data["starts_at"]),
            ends_at=float(data["ends_at"]), reason=str(data.get("reason", "")), source="api",
        )  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return None


def windows_from_config(entries: Iterable[Any]) -> list[MaintenanceWindow]:
    """`[[maintenance]]` entries (gateway.settings.MaintenanceConfig) as windows."""
    out = []
    for i, e in enumerate(entries):
        target: Target = "channel" if e.channel else "resource"
        out.append(
            MaintenanceWindow(
                id=f"config-{i + 1}",
                target=target,
                name=e.channel or e.resource,
                starts_at=e.start.timestamp(),
                ends_at=e.end.timestamp(),
                reason=e.reason,
            )
        )
    return out
