"""The resource directory: every unit in memory, indexed by capability and ranking tier, so a
recommendation costs the handful of units it returns, not a read of every resource row.

It is loaded at start and kept right by the store: every committed transaction that wrote a
resource row hands the row here (`Store.resource_listeners`), so the paths that change a unit's
status are the ones that update it. On PostgreSQL it is also refreshed from change notifications
(`gateway/store/notify.py`), so units changed by another node are seen too.

`recommend` gives exactly what `gateway.triage.recommend` gives over the same units (a property
test holds it to that): full capability matches by tier (available, returning, busy), then by
channel diversity and id; when too few units match every capability, it falls back to the full
ranking, which also offers partial matches. For an incident with coordinates (a `Scene`) the
order inside a tier depends on where the incident is, so every full match of the tiers needed is
looked at (still only the candidates, and only their positions in memory).

Positions (`set_position`) are kept newest first: a committed status change carries the fix its
transaction read, which may be older than one applied since, and never puts it back.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
from collections.abc import Collection, Iterable, Sequence

from gateway.domain.models import Position, Resource
from gateway.domain.states import Priority
from gateway.triage import (
    Recommendation,
    Scene,
    channel_count,
    recommend,
    recommendation_for,
    status_tier,
    unique_capabilities,
    whereabouts,
)

# An entry in a ranked list: (tier, -channels, id), so list order is the ranking order.
Entry = tuple[int, int, str]
ANY = ""  # the list of every recommendable unit, whatever its capabilities


class ResourceDirectory:
    def __init__(self, resources: Iterable[Resource] = ()) -> None:
        self._units: dict[str, Resource] = {}
        self._entry: dict[str, tuple[Entry, frozenset[str]] | None] = {}
        self._ranked: dict[str, list[Entry]] = {}
        self.load(resources)

    def load(self, resources: Iterable[Resource]) -> None:
        self._units.clear()
        self._entry.clear()
        self._ranked.clear()
        for r in resources:
            self.put(r)

    def __len__(self) -> int:
        return len(self._units)

    def get(self, resource_id: str) -> Resource | None:
        return self._units.get(resource_id)

    def all(self) -> list[Resource]:
        return [self._units[k] for k in sorted(self._units)]

    def put(self, resource: Resource) -> None:
        """A unit as a committed transaction left it (a copy is kept)."""
        snapshot = dataclasses.replace(
            resource,
            capabilities=list(resource.capabilities),
            contact_plan=list(resource.contact_plan),
            priorities=list(resource.priorities),
        )
        held = self._units.get(resource.id)
        if held is not None and _newer(held.position, snapshot.position):
            snapshot.position = held.position
        self._unindex(resource.id)
        self._units[resource.id] = snapshot
        tier = status_tier(snapshot.status)
        if tier is None:
            self._entry[resource.id] = None
            return
        entry: Entry = (tier, -channel_count(snapshot), snapshot.id)
        keys = frozenset({ANY, *(c.strip().casefold() for c in snapshot.capabilities)})
        self._entry[resource.id] = (entry, keys)
        for key in keys:
            bisect.insort(self._ranked.setdefault(key, []), entry)

    def set_position(self, resource_id: str, position: Position) -> bool:
        """Apply a unit's fix (a committed position report); False when the unit is unknown or
        holds a newer one. The ranking index does not depend on positions: nothing to reindex."""
        unit = self._units.get(resource_id)
        if unit is None or not _newer(position, unit.position):
            return False
        unit.position = position
        return True

    def _unindex(self, resource_id: str) -> None:
        old = self._entry.pop(resource_id, None)
        if old is None:
            return
        entry, keys = old
        for key in keys:
            ranked = self._ranked[key]
            i = bisect.bisect_left(ranked, entry)
            if i < len(ranked) and ranked[i] == entry:
                del ranked[i]

    def recommend(
        self,
        *,
        capabilities: Sequence[str],
        priority: Priority,
        count: int,
        exclude: Collection[str] = (),
        scene: Scene | None = None,
    ) -> list[Recommendation]:
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        if count == 0:
            return []
        required = unique_capabilities(capabilities)
        wanted = [c.casefold() for c in required]
        lists = [self._ranked.get(k, []) for k in wanted] or [self._ranked.get(ANY, [])]
        shortest = min(lists, key=len)
        picked: list[tuple[Entry, Resource]] = []
        done_tier = -1
        for entry in shortest:
            tier, _channels, rid = entry
            if len(picked) >= count and (scene is None or tier > done_tier):
                break
            if rid in exclude:
                continue
            unit = self._units[rid]
            keys = self._entry[rid]
            assert keys is not None
            if priority in unit.priorities and all(k in keys[1] for k in wanted):
                picked.append((entry, unit))
                done_tier = tier  # with a scene, the rest of this tier may be nearer
        if len(picked) >= count:
            units = [u for _, u in picked]
            if scene is not None:  # full matches all: recommend's rank without the missing count
                by_place = [((e[0], *whereabouts(u, scene)[:2], e[1], e[2]), u) for e, u in picked]
                units = [u for _, u in heapq.nsmallest(count, by_place, key=lambda x: x[0])]
            return [recommendation_for(u, required, scene) for u in units[:count]]
        # Too few full matches: the full ranking (partial matches come after the full ones).
        units = self.all()
        return recommend(
            units, capabilities=capabilities, priority=priority, count=count, exclude=exclude, scene=scene
        )


def _newer(position: Position | None, than: Position | None) -> bool:
    """`position` was observed after `than` (any fix is newer than none)."""
    return position is not None and (than is None or position.observed_at > than.observed_at)
