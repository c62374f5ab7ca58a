"""GET /api/v1/kpis[?hours=24]: response times per priority against targets, delivery per channel.

Over the incidents created in the last `hours` (1 to 2160, default 24):

- per priority, the time from creation to dispatch, from dispatch to the first acknowledgement
  (against the priority's `ack_deadline`) and from creation to on scene (against its
  `response_target`): count, median, 90th percentile (nearest rank), maximum, met and missed;
- per channel, over the attempts of those incidents' deliveries: how many the channel accepted
  (sent, delivered or acknowledged; only `acknowledged` means a person answered), failed, were
  cancelled or are still in flight, and how many were left for the next endpoint (a fallback),
  by reason (the reasons the review counts);
- `satisfaction`, the callers' opt-in SMS survey over the surveys sent in the window (those the
  network accepted): responses, mean score (1-5), response rate and the count of each score;
- `targets`, the configured per-priority policy, which the console uses for its ack-deadline cues;
- `handling`, average handling time overall, per desk and as a trend, and `first_contact`,
  first-contact resolution likewise (defined in gateway/services/desk_kpis.py).

Read-only aggregate queries over the store's tables, in one read transaction.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from gateway.api import context
from gateway.api.auth import Permission, require
from gateway.api.inputs import query_int
from gateway.clock import iso
from gateway.domain.states import ACTIVE_ATTEMPT_STATES, REACHED_STATES, DeliveryState, Priority
from gateway.services.desk_kpis import Period, desk_kpis, read_desk_rows
from gateway.services.review import FAILED
from gateway.services.survey import satisfaction
from gateway.settings import PriorityTarget

MAX_HOURS = 90 * 24
_ACCEPTED = {s.value for s in REACHED_STATES}
_ACTIVE = {s.value for s in ACTIVE_ATTEMPT_STATES}


def summarise(values: Sequence[float], target: float | None) -> dict[str, Any]:
    """Count, median, p90 (nearest rank), max and, with a target, how many met or missed it."""
    xs = sorted(values)
    n = len(xs)
    out: dict[str, Any] = {"count": n, "median": None, "p90": None, "max": None, "target": target}
    if n:
        mid = n // 2
        median = xs[mid] if n % 2 else (xs[mid - 1] + xs[mid]) / 2
        out.update(median=round(median, 3), p90=round(xs[math.ceil(0.9 * n) - 1], 3), max=round(xs[-1], 3))
    if target is not None:
        met = sum(1 for x in xs if x <= target)
        out.update(met=met, missed=n - met)
    return out


def _targets(target: PriorityTarget) -> dict[str, Any]:
    return {
        "response_target": target.response_target,
        "ack_deadline": target.ack_deadline,
        "confirm_timeout": target.confirm_timeout,
        "mode": target.mode.value,
        "units": target.units,
    }


def _gap(start: float | None, end: float | None) -> float | None:
    return end - start if start is not None and end is not None else None


def per_priority(rows: Sequence[Any], targets: dict[Priority, PriorityTarget]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for prio in Priority:
        mine = [r for r in rows if r.priority == prio.value]
        target = targets[prio]
        spans: dict[str, list[float]] = {"to_dispatch": [], "to_acknowledge": [], "to_on_scene": []}
        for r in mine:
            for key, span in (
                ("to_dispatch", _gap(r.created_at, r.dispatched_at)),
                ("to_acknowledge", _gap(r.dispatched_at, r.acknowledged_at)),
                ("to_on_scene", _gap(r.created_at, r.on_scene_at)),
            ):
                if span is not None:
                    spans[key].append(max(0.0, span))
        out[prio.value] = {
            "incidents": len(mine),
            "awaiting_ack": sum(1 for r in mine if r.state == "dispatched"),
            "to_dispatch": summarise(spans["to_dispatch"], None),
            "to_acknowledge": summarise(spans["to_acknowledge"], target.ack_deadline),
            "to_on_scene": summarise(spans["to_on_scene"], target.response_target),
        }
    return out


def per_channel(rows: Sequence[Any]) -> dict[str, Any]:
    counts: dict[str, Counter[str]] = {}
    fallbacks: dict[str, Counter[str]] = {}
    for r in rows:
        c = counts.setdefault(r.channel, Counter())
        c["attempts"] += 1
        if r.state in _ACCEPTED:
            c["accepted"] += 1
        if r.state in (DeliveryState.DELIVERED.value, DeliveryState.ACKNOWLEDGED.value):
            c["delivered"] += 1
        if r.state == DeliveryState.ACKNOWLEDGED.value:
            c["acknowledged"] += 1
        if r.state == DeliveryState.CANCELLED.value:
            c["cancelled"] += 1
        elif r.closed_reason is None and r.state in _ACTIVE:
            c["in_flight"] += 1
        elif r.state not in _ACCEPTED:
            c["failed"] += 1
        if r.closed_reason in FAILED:
            fallbacks.setdefault(r.channel, Counter())[r.closed_reason] += 1
    out: dict[str, Any] = {}
    for name in sorted(counts):
        c = counts[name]
        finished = c["accepted"] + c["failed"]
        by_reason = dict(sorted(fallbacks.get(name, Counter()).items()))
        out[name] = {
            **{k: c[k] for k in ("attempts", "accepted", "delivered", "acknowledged", "failed")},
            **{k: c[k] for k in ("cancelled", "in_flight")},
            "success_rate": round(c["accepted"] / finished, 4) if finished else None,
            "fallbacks": sum(by_reason.values()),
            "fallback_reasons": by_reason,
        }
    return out


async def kpis(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    hours = query_int(request, "hours", default=24, low=1, high=MAX_HOURS)
    gw = context.gateway(request)
    now = gw.clock.now()
    since = now - hours * 3600
    async with gw.store.read() as tx:
        incidents = await tx.incident_times_since(since)
        attempts = await tx.attempt_outcomes_since(since)
        surveys = await tx.survey_outcomes_since(since)
        desk_rows = await read_desk_rows(tx, since)
    window = gw.settings.cti.fcr_window
    desk = await asyncio.to_thread(desk_kpis, desk_rows, Period(since, now), now=now, window=window)
    targets = gw.settings.triage.targets
    return web.json_response(
        {
            "window": {"hours": hours, "since": iso(since), "until": iso(now)},
            "incidents": len(incidents),
            "targets": {p.value: _targets(targets[p]) for p in Priority},
            "priorities": per_priority(incidents, targets),
            "channels": per_channel(attempts),
            "satisfaction": satisfaction(surveys),
            **desk,  # handling (AHT) and first_contact (FCR): gateway/services/desk_kpis.py
        }
    )


def routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/kpis", kpis, name="kpis")]
