"""Escalation levels, replies from the field, stand-down on resolve."""

from __future__ import annotations

from gateway.domain.states import DeliveryState, IncidentState, UnitStatus
from tests.engine.test_fallback import dispatch_eng1
from tests.support.engine import FIRE
from tests.support.waiting import until

LEVELS = {
    "levels": {
        "P2": [
            {"after": 60, "action": "notify", "target": "duty-managers"},
            {"after": 90, "action": "dispatch_more", "count": 1},
            {"after": 400, "action": "repage"},
        ]
    }
}


async def incident_state(rig, ref):
    async with rig.gw.store.read() as tx:
        return (await tx.get_incident(ref)).state


async def resource(rig, rid):
    async with rig.gw.store.read() as tx:
        return await tx.get_resource(rid)


async def test_unacknowledged_dispatch_climbs_the_escalation_levels(rig_factory):
    rig = await rig_factory(escalation=LEVELS)
    ref = await dispatch_eng1(rig)
    rig.clock.advance(59)
    assert await rig.gw.escalation.check() == 0
    rig.clock.advance(2)
    assert await rig.gw.escalation.check() == 1
    await rig.settle()
    assert [s.address for s in rig.ch["sms"].sent] == ["+447700900099"]
    assert "ESCALATION 1" in rig.ch["sms"].sent[0].text
    rig.clock.advance(30)
    assert await rig.gw.escalation.check() == 1
    await rig.settle()
    assert "R2" in [s.address for s in rig.ch["radio"].sent]  # ENG-2 dispatched as well
    async with rig.gw.store.read() as tx:
        inc = await tx.get_incident(ref)
    assert inc.escalation_level == 2
    assert await rig.gw.escalation.check() == 0  # a level never runs twice


async def test_repage_starts_an_exhausted_plan_again(rig_factory):
    rig = await rig_factory(escalation=LEVELS)
    ref = await dispatch_eng1(rig)
    for _ in range(3):  # radio, sms, pager each wait out the 120 s ack deadline
        await rig.advance(121)
    (d, *_) = await rig.deliveries(ref)
    assert d.outcome == "exhausted"
    rig.clock.advance(40)  # 403 s after dispatch: the repage level (400 s) is due
    await rig.gw.escalation.check()
    await rig.settle()
    assert len([s for s in rig.ch["radio"].sent if s.address == "R1"]) == 2
    (d, *_) = await rig.deliveries(ref)
    assert d.round == 2 and d.completed_at is None


async def test_field_replies_drive_acknowledgement_and_unit_status(rig_factory):
    rig = await rig_factory()
    ref = await dispatch_eng1(rig)
    assert (await resource(rig, "ENG-1")).status is UnitStatus.DISPATCHED
    rig.ch["radio"].reply("R1", "en route")
    await until(lambda: _is(rig, ref, IncidentState.ACKNOWLEDGED), "EN ROUTE acknowledges")
    assert (await resource(rig, "ENG-1")).status is UnitStatus.EN_ROUTE
    serial = int(ref.rsplit("-", 1)[1])
    rig.ch["radio"].reply("R1", f"On Scene {serial}")
    await until(lambda: _is(rig, ref, IncidentState.ON_SCENE), "ON SCENE moves the incident")
    await rig.gw.stand_down.resolve(ref, actor="test")
    await rig.settle()
    assert rig.ch["radio"].sent[-1].purpose == "stand_down"
    rig.ch["radio"].reply("R1", "CLEAR")
    await until(lambda: _status(rig, "ENG-1", UnitStatus.AVAILABLE), "CLEAR frees the unit")


async def test_decline_frees_the_unit_and_is_recorded(rig_factory):
    rig = await rig_factory()
    ref = await dispatch_eng1(rig)
    rig.ch["radio"].reply("R1", "decline")

    async def declined() -> bool:
        return (await rig.deliveries(ref))[0].outcome == "declined"

    await until(declined, "delivery declined")
    assert (await resource(rig, "ENG-1")).status is UnitStatus.AVAILABLE
    await rig.advance(600)
    assert rig.ch["sms"].sent == []  # a decline is an answer; the ladder stops


async def test_unrecognised_text_is_audited_and_changes_nothing(rig_factory):
    rig = await rig_factory()
    ref = await dispatch_eng1(rig)
    rig.ch["radio"].reply("R1", "what is this about?")
    await until(rig.ch["radio"]._inbound.empty, "reply consumed")
    await rig.settle()
    (d,) = await rig.deliveries(ref)
    assert d.state is DeliveryState.SENT
    async with rig.gw.store.read() as tx:
        rows = await tx.audit_since(0, 1000)
    assert any(r["kind"] == "field.unrecognised" for r in rows)


async def test_resolve_stands_down_everyone_reached_and_cancels_the_rest(rig_factory):
    rig = await rig_factory()
    inc = await rig.gw.incidents.create(FIRE, source="desk", actor="t")
    await rig.gw.dispatch.dispatch(inc.reference, ["ENG-1", "ENG-2"], actor="t")
    await rig.settle()
    await rig.gw.stand_down.resolve(inc.reference, actor="t")
    await rig.settle()
    downs = sorted(s.address for s in rig.ch["radio"].sent if s.purpose == "stand_down")
    assert downs == ["R1", "R2"]
    ds = await rig.deliveries(inc.reference)
    assert {d.outcome for d in ds if d.purpose.value == "dispatch"} == {"cancelled"}
    await rig.advance(600)
    assert rig.ch["sms"].sent == []  # cancelled ladders never go on


async def _is(rig, ref, state) -> bool:
    return await incident_state(rig, ref) is state


async def _status(rig, rid, status) -> bool:
    return (await resource(rig, rid)).status is status


async def test_an_ack_naming_a_message_counts_only_from_where_that_message_went(rig_factory):
    rig = await rig_factory()
    ref = await dispatch_eng1(rig)
    message_id = rig.ch["radio"].sent[0].message_id
    rig.ch["sms"].ack("+447700900002", message_id)  # ENG-2's phone quoting ENG-1's radio message
    rig.ch["radio"].ack("R2", message_id)  # ENG-2's radio
    await until(lambda: rig.ch["sms"]._inbound.empty() and rig.ch["radio"]._inbound.empty(), "acks consumed")
    await rig.settle()
    (d,) = await rig.deliveries(ref)
    assert d.acknowledged_at is None
    rig.ch["radio"].ack("R1", message_id)

    async def acked() -> bool:
        return (await rig.deliveries(ref))[0].state is DeliveryState.ACKNOWLEDGED

    await until(acked, "ack from the radio the message went to")


async def test_a_reply_from_a_number_written_another_way_still_finds_its_unit(rig_factory):
    rig = await rig_factory()
    rig.ch["radio"].script("R1", "perm")
    ref = await dispatch_eng1(rig)
    assert rig.ch["sms"].sent[0].address == "+447700900001"
    rig.ch["sms"].reply("07700 900001", "ACK")  # the network gives the national form

    async def acked() -> bool:
        return (await rig.deliveries(ref))[0].state is DeliveryState.ACKNOWLEDGED

    await until(acked, "the reply matched by its last digits")


async def test_a_reply_naming_a_closed_incident_never_acknowledges_another(rig_factory):
    rig = await rig_factory()
    first = await dispatch_eng1(rig)
    await rig.gw.stand_down.resolve(first, actor="test")
    await rig.gw.stand_down.close(first, actor="test")
    second = await dispatch_eng1(rig)
    serial = int(first.rsplit("-", 1)[1])
    rig.ch["radio"].reply("R1", f"ACK {serial}")  # quoting the closed incident
    await until(rig.ch["radio"]._inbound.empty, "reply consumed")
    await rig.settle()
    (d,) = [x for x in await rig.deliveries(second) if x.purpose.value == "dispatch"]
    assert d.acknowledged_at is None
