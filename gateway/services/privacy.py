"""Personal data: subject access, erasure and the retention purge (docs/privacy.md).

- `export(number)`: every record held about a number as JSON (its subject rows, the incidents
  that name it, their audit trail), audited as `personal.exported`.
- `erase(number, reason)`: overwrites the number and name in `subjects`, refused while a linked
  incident is open or on legal hold (`privacy.legal_hold`); each linked incident's audit gets
  `personal.erased` ("personal data erased on … by … because …"). The audit trail is append-only
  and holds no whole number (docs/privacy.md), so nothing in it needs to change.
- `purge(dry_run)`: pseudonymises the personal data of finished incidents older than
  `privacy.retention_days` for their classification, and clears call identifiers older than the
  call-record retention; `run()` does it every `privacy.purge_interval`, on one node at a time.
"""

from __future__ import annotations

import logging
from typing import Any

from gateway.clock import Clock, iso
from gateway.domain.models import Incident
from gateway.domain.states import IncidentState
from gateway.errors import Conflict
from gateway.settings import Settings
from gateway.store import Store, Tx

log = logging.getLogger(__name__)
PURGE_ACTOR = "system:retention"
# Erasure waits until an incident is finished: a resolved one still has its review to come.
FINISHED = frozenset({IncidentState.CLOSED, IncidentState.CANCELLED})


def _incident_record(inc: Incident) -> dict[str, Any]:
    return {
        "reference": inc.reference,
        "state": inc.state.value,
        "classification": inc.classification.value if inc.classification else None,
        "source": inc.source,
        "created_at": iso(inc.created_at),
        "caller_number": inc.caller_number,
        "caller_name": inc.caller_name,
        "call_id": inc.call_id,
        "called_number": inc.called_number,
        "nature": inc.nature,
        "location": inc.location,
    }


class PrivacyService:
    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock

    async def export(self, number: str, *, actor: str) -> dict[str, Any]:
        """Every record held about `number` (normalised as the API stores it)."""
        now = self.clock.now()
        async with self.store.write() as tx:
            subjects = await tx.subjects_with_number(number)
            incidents = await tx.incidents_of_subjects([s["id"] for s in subjects])
            trails = {inc.reference: await tx.audit_for_incident(inc.id) for inc in incidents}
            for inc in incidents:
                await tx.record(
                    "personal.exported", incident=inc, actor=actor, at=now, data={"subject": inc.subject_id}
                )
        return {
            "number": number,
            "exported_at": iso(now),
            "subjects": [
                {"id": s["id"], "number": s["number"], "name": s["name"], "created_at": iso(s["created_at"])}
                for s in subjects
            ],
            "incidents": [
                {
                    **_incident_record(inc),
                    "audit": [
                        {
                            "id": r["id"],
                            "at": iso(r["at"]),
                            "kind": r["kind"],
                            "actor": r["actor"],
                            "data": r["data"],
                        }
                        for r in trails[inc.reference]
                    ],
                }
                for inc in incidents
            ],
        }

    async def erase(self, number: str, *, reason: str, actor: str) -> dict[str, Any]:
        """Erase the personal data held about `number`; Conflict while it must be kept."""
        now = self.clock.now()
        held = set(self.settings.privacy.legal_hold)
        async with self.store.write() as tx:
            subjects = await tx.subjects_with_number(number)
            incidents = await tx.incidents_of_subjects([s["id"] for s in subjects])
            still_open = [i.reference for i in incidents if i.state not in FINISHED]
            if still_open:
                raise Conflict(f"erasure refused: incidents still open: {', '.join(still_open)}")
            on_hold = [i.reference for i in incidents if i.reference in held]
            if on_hold:
                raise Conflict(f"erasure refused: incidents on legal hold: {', '.join(on_hold)}")
            await tx.erase_subjects([s["id"] for s in subjects], at=now, why="erasure")
            message = f"personal data erased on {iso(now)} by {actor} because {reason}"
            for inc in incidents:
                await tx.record(
                    "personal.erased",
                    incident=inc,
                    actor=actor,
                    at=now,
                    data={"subject": inc.subject_id, "reason": reason, "message": message},
                )
        log.info(
            "personal data erased: %d records, %d incidents, by %s", len(subjects), len(incidents), actor
        )
        return {"erased": len(subjects), "incidents": [i.reference for i in incidents], "message": message}

    async def purge(self, *, dry_run: bool = False) -> dict[str, Any]:
        """Pseudonymise what outlived its retention (or, with dry_run, list it and change nothing)."""
        now = self.clock.now()
        days = self.settings.privacy.retention_days
        held = self.settings.privacy.legal_hold
        by_kind = {
            "incident": days.incident,
            "service_request": days.service_request,
            "enquiry": days.enquiry,
        }
        async with self.store.write() as tx:
            if not dry_run and not await tx.take_purge_lock():
                return {"skipped": "another node is purging", "personal": [], "calls": []}
            personal = await tx.expired_personal(now, by_kind, held=held)
            calls = await tx.expired_calls(now, days.call, held=held)
            if not dry_run:
                await self._pseudonymise(tx, personal, calls, now)
        result = {
            "dry_run": dry_run,
            "personal": [
                {
                    "reference": i.reference,
                    "classification": i.classification.value if i.classification else None,
                }
                for i in personal
            ],
            "calls": [i.reference for i in calls],
        }
        if personal or calls:
            log.info(
                "retention purge%s: %d personal records, %d call records",
                " (dry run)" if dry_run else "",
                len(personal),
                len(calls),
            )
        return result

    async def _pseudonymise(
        self, tx: Tx, personal: list[Incident], calls: list[Incident], now: float
    ) -> None:
        await tx.erase_subjects(
            [i.subject_id for i in personal if i.subject_id is not None], at=now, why="retention"
        )
        for inc in personal:
            await tx.record(
                "personal.purged",
                incident=inc,
                actor=PURGE_ACTOR,
                at=now,
                data={
                    "subject": inc.subject_id,
                    "message": f"personal data pseudonymised on {iso(now)}: retention ended",
                },
            )
        for inc in calls:
            inc.call_id, inc.called_number = None, None
            await tx.update_incident(inc)
            await tx.record(
                "call.purged",
                incident=inc,
                actor=PURGE_ACTOR,
                at=now,
                data={"fields": ["call_id", "called_number"]},
            )

    async def run(self) -> None:
        """Purge now and then every `privacy.purge_interval` seconds, until cancelled."""
        while True:
            try:
                await self.purge()
            except Exception:
                log.exception("retention purge failed; trying again next interval")
            await self.clock.sleep(self.settings.privacy.purge_interval)
