"""Unit positions: the last fix of each unit, from whichever channel reports it (APRS position
reports, MQTT radio uplinks, the field app's webhook calls, the API).

What a dispatch system keeps (docs/architecture.md, "Unit positions"): the resource row holds
the last fix only; the audit trail gets one fix per unit every `[positions] audit_every` seconds
(the track at that resolution), since units report every few seconds. Every applied fix is
still published on the bus (without an audit row), so the board's positions stay live."""

from __future__ import annotations

import math
from collections.abc import Callable

from gateway.bus import BusEvent
from gateway.domain.models import Position
from gateway.errors import ValidationFailed
from gateway.services.core import Core

# A fix stamped this far ahead of our clock is taken as taken now (the unit's clock is ahead).
FUTURE_SLACK = 5.0


def check_coordinates(lat: object, lon: object) -> tuple[float, float]:
    """WGS 84 degrees as floats, or ValidationFailed naming the bad one."""
    problems: dict[str, str] = {}
    out: list[float] = []
    for key, value, top in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
        if math.isfinite(number) and -top <= number <= top:
            out.append(number)
        else:
            problems[key] = f"must be a number of degrees from -{top:g} to {top:g}"
    if problems:
        raise ValidationFailed(problems)
    return out[0], out[1]


class PositionService:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def report(
        self,
        resource_id: str,
        lat: float,
        lon: float,
        *,
        observed_at: float | None,
        source: str,
        actor: str,
        evidence: dict[str, object] | None = None,
    ) -> str:
        """Apply one fix. "position": stored; "position older": the unit already has a fix as
        recent (a late or repeated report). ValidationFailed for coordinates off the globe."""
        lat, lon = check_coordinates(lat, lon)
        now = self.core.clock.now()
        observed = now if observed_at is None or observed_at > now + FUTURE_SLACK else observed_at
        fix = Position(lat, lon, observed, source)
        every = self.core.settings.positions.audit_every
        data = {
            "resource": resource_id,
            "lat": lat,
            "lon": lon,
            "observed_at": observed,
            "source": source,
            "evidence": evidence or {},
        }
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                if not await tx.set_position(resource_id, fix):
                    return "position older"
                if await tx.claim_position_audit(resource_id, now, every):
                    await tx.record("unit.position", actor=actor, at=now, data=data)
                else:
                    tx.after_commit(self._announcer(now, {**data, "actor": actor}))

                def apply() -> None:
                    self.core.directory.set_position(resource_id, fix)

                tx.after_commit(apply)
                return "position"
        raise AssertionError("a retried transaction ended without its result")

    def _announcer(self, at: float, data: dict[str, object]) -> Callable[[], None]:
        """Publish a fix kept out of the audit trail (no audit id) once it is committed."""

        def announce() -> None:
            self.core.store.bus.publish(BusEvent(kind="unit.position", at=at, data=data))

        return announce
