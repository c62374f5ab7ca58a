"""Group endpoints (talkgroups, group pager ids) and per-endpoint length limits."""

from __future__ import annotations

from adapters.base import RadioAck
from gateway.domain.states import DeliveryState
from tests.support.engine import FIRE
from tests.support.waiting import until

CREW = {
    "resources": [
        {
            "id": "CREW-A",
            "capabilities": ["fire"],
            "contact_plan": [
                {"channel": "radio", "address": "tg:ALPHA"},
                {"channel": "pager", "address": "2001", "max_length": 40},
            ],
        },
    ]
}


async def dispatch_crew(rig) -> str:
    inc = await rig.gw.incidents.create(FIRE, source="desk", actor="test")
    await rig.gw.dispatch.dispatch(inc.reference, ["CREW-A"], actor="test")
    await rig.settle()
    return inc.reference


async def test_each_radio_in_a_talkgroup_can_ack_and_every_ack_is_recorded(rig_factory):
    rig = await rig_factory(**CREW)
    ref = await dispatch_crew(rig)
    (msg,) = rig.ch["radio"].sent
    assert msg.address == "tg:ALPHA"
    # A radio outside the group cannot ack it; radios in the group can, each on its own.
    rig.ch["radio"].emit(
        RadioAck(address="R9", message_id=msg.message_id, evidence={"talkgroup": "tg:BRAVO"})
    )
    for radio in ("R1", "R2"):
        rig.ch["radio"].emit(
            RadioAck(address=radio, message_id=msg.message_id, evidence={"talkgroup": "tg:ALPHA"})
        )

    async def both_recorded() -> bool:
        async with rig.gw.store.read() as tx:
            rows = await tx.audit_since(0, 1000)
        acks = [r for r in rows if r["kind"] in ("delivery.acknowledged", "delivery.duplicate_ack")]
        return len(acks) == 2

    await until(both_recorded, "an ack from each radio in the group")
    (d,) = await rig.deliveries(ref)
    assert d.state is DeliveryState.ACKNOWLEDGED
    assert d.ack_evidence["from"] == "R1"
    async with rig.gw.store.read() as tx:
        rows = await tx.audit_since(0, 1000)
    dup = next(r for r in rows if r["kind"] == "delivery.duplicate_ack")
    assert dup["data"]["evidence"]["from"] == "R2"


async def test_an_endpoint_limit_tighter_than_the_channel_is_applied(rig_factory):
    rig = await rig_factory(**CREW)
    rig.ch["radio"].script("tg:ALPHA", "perm")
    ref = await dispatch_crew(rig)
    (page,) = rig.ch["pager"].sent
    assert len(page.text) <= 40 and page.text.endswith("...")
    attempts = await rig.attempts(ref)
    assert attempts[-1].evidence["truncated"] is True


async def test_a_burst_of_acks_is_applied_together_and_a_forged_one_is_not(rig_factory):
    units = [
        {"id": f"U-{i}", "capabilities": ["fire"], "contact_plan": [{"channel": "radio", "address": f"R{i}"}]}
        for i in range(30)
    ]
    rig = await rig_factory(resources=units)
    refs = []
    for i in range(30):
        inc = await rig.gw.incidents.create(FIRE, source="desk", actor="test")
        await rig.gw.dispatch.dispatch(inc.reference, [f"U-{i}"], actor="test")
        refs.append(inc.reference)
    await rig.settle()
    sent = {m.address: m.message_id for m in rig.ch["radio"].sent}
    assert len(sent) == 30
    # All queued before the pump runs: one batch. R0 quotes R1's message: that must not count.
    rig.ch["radio"].emit(RadioAck(address="R0", message_id=sent["R1"]))
    for i in range(2, 30):
        rig.ch["radio"].emit(RadioAck(address=f"R{i}", message_id=sent[f"R{i}"]))

    async def acked() -> bool:
        states = [(await rig.deliveries(ref))[0].state for ref in refs[2:]]
        return all(s is DeliveryState.ACKNOWLEDGED for s in states)

    await until(acked, "28 acks applied")
    # R0's forged ack fell back to R0's own latest dispatch (a bare ack from that radio); R1 is untouched.
    assert (await rig.deliveries(refs[0]))[0].state is DeliveryState.ACKNOWLEDGED
    assert (await rig.deliveries(refs[1]))[0].state is DeliveryState.SENT
