"""Personal data on SQLite and PostgreSQL: kept apart in subjects, exported, erased and purged
with the append-only audit trail left whole (every earlier row unchanged, new rows appended)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from gateway.domain.models import Incident
from gateway.domain.personal import mask_number
from gateway.domain.states import Classification, IncidentState
from gateway.errors import Conflict
from gateway.services.privacy import PrivacyService
from gateway.settings import Settings
from gateway.store import Store
from gateway.store import schema as t

NUMBER = "+447700900555"
OTHER = "+447700900666"
DAY = 86400.0


async def _incident(
    store: Store, ref: str, *, number: str, state: IncidentState, cls: Classification | None, age_days: float
) -> Incident:
    now = store.clock.now()
    inc = Incident(
        id=0,
        reference=ref,
        source="call",
        state=state,
        created_at=now - age_days * DAY,
        updated_at=now - age_days * DAY,
        caller_number=number,
        caller_name="Grace Hopper",
        call_id=f"call-{ref}",
        called_number="999",
        classification=cls,
        closed_at=now - age_days * DAY if state is IncidentState.CLOSED else None,
        call_answered_at=now - age_days * DAY,
    )
    async with store.write() as tx:
        await tx.insert_incident(inc)
        await tx.record("incident.created", incident=inc, data={"caller_number": mask_number(number)})
    return inc


async def _audit(store: Store) -> list[dict]:
    async with store.read() as tx:
        rows = (await tx.conn.execute(sa.select(t.audit).order_by(t.audit.c.id))).all()
    return [dict(r._mapping) for r in rows]


async def _everything(store: Store) -> str:
    async with store.read() as tx:
        dump = []
        for table in (t.incidents, t.subjects, t.audit):
            dump += [dict(r._mapping) for r in (await tx.conn.execute(sa.select(table))).all()]
    return json.dumps(dump, default=str)


def _service(store: Store, **privacy: object) -> PrivacyService:
    return PrivacyService(Settings(privacy=privacy), store, store.clock)


async def test_numbers_live_in_subjects_not_in_incidents(store: Store) -> None:
    inc = await _incident(
        store, "INC-2026-000001", number=NUMBER, state=IncidentState.NEW, cls=None, age_days=0
    )
    async with store.read() as tx:
        cols = {c["name"] for c in await tx.conn.run_sync(lambda c: sa.inspect(c).get_columns("incidents"))}
        again = await tx.get_incident(inc.reference)
        found = await tx.incidents_by_caller(NUMBER)
    assert not {"caller_number", "caller_name"} & cols and "subject_id" in cols
    assert (again.caller_number, again.caller_name) == (NUMBER, "Grace Hopper")
    assert [i.reference for i in found] == [inc.reference]
    assert NUMBER not in json.dumps(await _audit(store), default=str)


async def test_erasure_overwrites_the_subject_and_appends_to_the_audit(store: Store) -> None:
    a = await _incident(
        store,
        "INC-2026-000001",
        number=NUMBER,
        state=IncidentState.CLOSED,
        cls=Classification.INCIDENT,
        age_days=3,
    )
    b = await _incident(
        store,
        "INC-2026-000002",
        number=NUMBER,
        state=IncidentState.CLOSED,
        cls=Classification.ENQUIRY,
        age_days=1,
    )
    other = await _incident(
        store, "INC-2026-000003", number=OTHER, state=IncidentState.CLOSED, cls=None, age_days=1
    )
    service = _service(store)
    exported = await service.export(NUMBER, actor="cli:dpo")
    assert [i["reference"] for i in exported["incidents"]] == [a.reference, b.reference]
    assert {s["number"] for s in exported["subjects"]} == {NUMBER}
    before = await _audit(store)

    result = await service.erase(NUMBER, reason="request DSR-17", actor="cli:dpo")
    assert result["erased"] == 2 and result["incidents"] == [a.reference, b.reference]
    after = await _audit(store)
    assert after[: len(before)] == before  # the chain is whole: nothing earlier changed
    erased = [r for r in after[len(before) :] if r["kind"] == "personal.erased"]
    assert len(erased) == 2
    assert "personal data erased on " in erased[0]["data"]["message"]
    assert "by cli:dpo because request DSR-17" in erased[0]["data"]["message"]
    assert NUMBER not in await _everything(store) and "Grace Hopper" in await _everything(store)  # OTHER's
    async with store.read() as tx:
        gone = await tx.get_incident(a.reference)
        kept = await tx.get_incident(other.reference)
    assert (gone.caller_number, gone.caller_name) == (None, None)
    assert kept.caller_number == OTHER
    assert (await service.export(NUMBER, actor="cli:dpo"))["incidents"] == []
    async with store.write() as tx:  # the audit is still append-only
        with pytest.raises(Exception, match="append-only"):
            await tx.conn.execute(sa.delete(t.audit))


async def test_erasure_is_refused_while_an_incident_is_open_or_on_legal_hold(store: Store) -> None:
    await _incident(
        store, "INC-2026-000001", number=NUMBER, state=IncidentState.DISPATCHED, cls=None, age_days=0
    )
    with pytest.raises(Conflict, match="still open: INC-2026-000001"):
        await _service(store).erase(NUMBER, reason="asked", actor="cli:dpo")
    await _incident(store, "INC-2026-000002", number=OTHER, state=IncidentState.CLOSED, cls=None, age_days=0)
    with pytest.raises(Conflict, match="legal hold: INC-2026-000002"):
        await _service(store, legal_hold=["INC-2026-000002"]).erase(OTHER, reason="asked", actor="cli:dpo")
    async with store.read() as tx:
        assert (await tx.get_incident("INC-2026-000002")).caller_number == OTHER


async def test_purge_pseudonymises_by_classification_and_keeps_the_audit_whole(store: Store) -> None:
    old_enquiry = await _incident(
        store,
        "INC-2026-000001",
        number=NUMBER,
        state=IncidentState.CLOSED,
        cls=Classification.ENQUIRY,
        age_days=100,
    )
    old_incident = await _incident(
        store,
        "INC-2026-000002",
        number=NUMBER,
        state=IncidentState.CLOSED,
        cls=Classification.INCIDENT,
        age_days=100,
    )
    still_open = await _incident(
        store,
        "INC-2026-000003",
        number=OTHER,
        state=IncidentState.TRIAGED,
        cls=Classification.ENQUIRY,
        age_days=400,
    )
    held = await _incident(
        store,
        "INC-2026-000004",
        number=OTHER,
        state=IncidentState.CLOSED,
        cls=Classification.ENQUIRY,
        age_days=400,
    )
    service = _service(
        store, retention_days={"enquiry": 90, "incident": 730, "call": 30}, legal_hold=[held.reference]
    )
    before = await _audit(store)

    dry = await service.purge(dry_run=True)
    assert [p["reference"] for p in dry["personal"]] == [old_enquiry.reference]
    assert dry["calls"] == [old_enquiry.reference, old_incident.reference]
    assert await _audit(store) == before  # a dry run changes nothing

    done = await service.purge()
    assert done["personal"] == dry["personal"]
    after = await _audit(store)
    assert after[: len(before)] == before
    assert [r["kind"] for r in after[len(before) :]] == ["personal.purged", "call.purged", "call.purged"]
    async with store.read() as tx:
        purged = await tx.get_incident(old_enquiry.reference)
        kept = await tx.get_incident(old_incident.reference)
        assert (await tx.get_incident(still_open.reference)).caller_number == OTHER
        assert (await tx.get_incident(held.reference)).caller_number == OTHER
    assert (purged.caller_number, purged.call_id) == (None, None)
    assert (kept.caller_number, kept.call_id) == (NUMBER, None)
    assert (await service.purge())["personal"] == []  # nothing twice
