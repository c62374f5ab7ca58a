"""`callout check-config`: everything `run` validates, plus warnings about fragile set-ups."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.domain.states import Priority
from gateway.errors import ConfigError
from gateway.schedules import SCHEDULE_CHANNEL, gaps, schedules_from_config
from gateway.settings import Settings, load_settings


def load_checked(path: Path | str | None) -> Settings:
    """Load settings and validate each channel's options with its kind's own model."""
    from adapters.registry import validate_options

    settings = load_settings(path)
    problems = []
    for i, ch in enumerate(settings.channels):
        for key, reason in validate_options(ch.kind, ch.options):
            where = "kind" if key == "kind" else f"options.{key}"
            problems.append((f"channels.{i}.{where} ({ch.name})", reason))
    for i, src in enumerate(settings.cti.sources):
        for key, reason in validate_options(src.kind, src.options, cti=True):
            where = "kind" if key == "kind" else f"options.{key}"
            problems.append((f"cti.sources.{i}.{where} ({src.name})", reason))
    if problems:
        raise ConfigError(file=str(path) if path else "(defaults)", problems=problems)
    return settings


def warnings(settings: Settings) -> list[str]:
    """Set-ups that run but put a dispatch at risk."""
    from adapters.registry import family

    kinds = {c.name: c.kind for c in settings.channels}
    out = []
    for i, r in enumerate(settings.resources):
        if Priority.P1 not in r.priorities:
            continue
        independent = {
            family(kinds[e.channel]) + ":" + kinds[e.channel] for e in r.contact_plan if e.channel in kinds
        }
        if any(e.channel == SCHEDULE_CHANNEL for e in r.contact_plan):
            independent.add("schedule")  # the on-call person's own plan counts as one more
        if len(independent) < 2:
            out.append(
                f"resources.{i} ({r.id}): can receive P1 dispatches but has only "
                f"{len(independent)} independent channel; give it at least two kinds of channel"
            )
    out.extend(schedule_gaps(settings, now=time.time()))
    if not settings.api.tokens:
        out.append("api.tokens: no tokens; the API will refuse every request that needs one")
    for i, tok in enumerate(settings.api.tokens):
        if tok.token is not None:
            out.append(
                f"api.tokens.{i} ({tok.name}): the token is in plaintext; replace it with the "
                f"token_hash line printed by `callout token new --name {tok.name} --role {tok.role}`"
            )
    if Priority.P1 not in settings.escalation.levels:
        out.append("escalation.levels: no levels for P1; an unacknowledged P1 will not escalate")
    return out


def schedule_gaps(settings: Settings, *, now: float, days: int = 14) -> list[str]:
    """Holes in the cover of P1 schedules over the next `days` days (gateway/schedules.py)."""
    out = []
    for i, (sid, schedule) in enumerate(schedules_from_config(settings.schedules).items()):
        if not schedule.p1:
            continue
        holes = gaps(schedule, now, days=days)
        if holes:
            shown = ", ".join(f"{_utc(h.start)} to {_utc(h.end)}" for h in holes[:3])
            hours = sum(h.end - h.start for h in holes) / 3600
            out.append(
                f"schedules.{i} ({sid}): P1 cover has gaps, nobody on call for {hours:.1f} h "
                f"in the next {days} days ({shown}{', …' if len(holes) > 3 else ''})"
            )
    return out


def _utc(t: float) -> str:
    return f"{datetime.fromtimestamp(t, UTC):%Y-%m-%d %H:%M} UTC"
