"""Delivery engine policy: ladder fallback, parallel P1, retries, down channels, rate limits."""

from __future__ import annotations

from adapters.base import AttemptEvidence, Capabilities, HealthState
from gateway.domain.states import DeliveryState, IncidentState
from tests.support.engine import FIRE, FIRE_P1
from tests.support.scripted import PERM, TEMP
from tests.support.waiting import until

D = DeliveryState

TWO_WAY = Capabilities(max_length=160, two_way=True)
CONFIRMING = Capabilities(max_length=160, two_way=True, confirms_delivery=True)
ONE_WAY = Capabilities(max_length=80, two_way=False)


async def dispatch_eng1(rig, fields=FIRE) -> str:
    inc = await rig.gw.incidents.create(fields, source="desk", actor="test")
    await rig.gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="test")
    await rig.settle()
    return inc.reference


async def test_ladder_moves_on_after_a_permanent_failure(rig_factory):
    rig = await rig_factory()
    rig.ch["radio"].script("R1", PERM)
    ref = await dispatch_eng1(rig)
    assert rig.ch["radio"].tries == [("R1", PERM)]
    assert [s.address for s in rig.ch["sms"].sent] == ["+447700900001"]
    assert rig.ch["pager"].tries == []
    attempts = await rig.attempts(ref)
    assert [(a.channel, a.state, a.closed_reason) for a in attempts] == [
        ("radio", DeliveryState.FAILED_PERMANENT, "failed"),
        ("sms", DeliveryState.SENT, None),
    ]
    assert "scripted permanent failure" in attempts[0].evidence["error"]
    (d,) = await rig.deliveries(ref)
    assert d.state is DeliveryState.SENT


async def test_ladder_moves_on_when_no_delivery_receipt_arrives(rig_factory):
    rig = await rig_factory(caps={"radio": CONFIRMING})
    ref = await dispatch_eng1(rig)
    assert len(rig.ch["radio"].sent) == 1 and rig.ch["sms"].sent == []
    await rig.advance(29)  # P2 confirm timeout is 30 s by default
    assert rig.ch["sms"].sent == []
    await rig.advance(2)
    assert len(rig.ch["sms"].sent) == 1
    radio = (await rig.attempts(ref))[0]
    assert (radio.state, radio.closed_reason) == (DeliveryState.FAILED_PERMANENT, "confirm_timeout")


async def test_delivery_receipt_confirms_and_stops_the_confirm_timer(rig_factory):
    rig = await rig_factory(caps={"radio": CONFIRMING})
    ref = await dispatch_eng1(rig)
    ref_on_channel = (await rig.attempts(ref))[0].channel_ref
    rig.ch["radio"].report(ref_on_channel, delivered=True)
    await until(rig.ch["radio"]._inbound.empty, "report consumed")
    await rig.settle()
    await rig.advance(60)
    (d,) = await rig.deliveries(ref)
    assert d.state is DeliveryState.DELIVERED
    assert rig.ch["sms"].sent == []  # still inside the 120 s ack deadline


async def test_ladder_moves_on_when_no_ack_arrives_and_a_late_ack_still_counts(rig_factory):
    rig = await rig_factory()
    ref = await dispatch_eng1(rig)
    assert len(rig.ch["radio"].sent) == 1
    await rig.advance(119)  # P2 ack deadline: 120 s
    assert rig.ch["sms"].sent == []
    await rig.advance(2)
    assert len(rig.ch["sms"].sent) == 1
    radio = (await rig.attempts(ref))[0]
    assert radio.closed_reason == "ack_timeout" and radio.state is DeliveryState.SENT
    rig.ch["sms"].reply("+447700900001", " ack ")
    await until(lambda: rig.deliveries(ref), "deliveries")

    async def acked() -> bool:
        return (await rig.deliveries(ref))[0].state is DeliveryState.ACKNOWLEDGED

    await until(acked, "delivery acknowledged by SMS reply")
    async with rig.gw.store.read() as tx:
        assert (await tx.get_incident(ref)).state is IncidentState.ACKNOWLEDGED
    await rig.advance(600)
    assert rig.ch["pager"].sent == []  # nothing more goes out once acknowledged


async def test_p1_sends_on_every_channel_at_once(rig_factory):
    rig = await rig_factory()
    ref = await dispatch_eng1(rig, FIRE_P1)
    assert [len(rig.ch[n].sent) for n in ("radio", "sms", "pager")] == [1, 1, 1]
    rig.ch["radio"].ack("R1", rig.ch["radio"].sent[0].message_id)

    async def acked() -> bool:
        return (await rig.deliveries(ref))[0].state is DeliveryState.ACKNOWLEDGED

    await until(acked, "radio ack acknowledges the delivery")
    attempts = await rig.attempts(ref)
    assert [a.state for a in attempts] == [DeliveryState.ACKNOWLEDGED, DeliveryState.SENT, DeliveryState.SENT]
    assert all(a.closed_reason is not None for a in attempts)


async def test_temporary_failure_retries_on_the_same_channel_with_backoff(rig_factory):
    rig = await rig_factory()
    rig.ch["radio"].script("R1", TEMP, TEMP)
    ref = await dispatch_eng1(rig)
    (a,) = await rig.attempts(ref)
    assert (a.state, a.tries) == (DeliveryState.FAILED_TEMPORARY, 1)
    assert a.next_try_at == rig.clock.now() + 10  # base 10 s, no jitter in this config
    await rig.advance(10)
    (a,) = await rig.attempts(ref)
    assert (a.state, a.tries) == (DeliveryState.FAILED_TEMPORARY, 2)
    assert a.next_try_at == rig.clock.now() + 20  # doubled
    await rig.advance(19)
    assert len(rig.ch["radio"].tries) == 2
    await rig.advance(1)
    assert [o for _, o in rig.ch["radio"].tries] == [TEMP, TEMP, "ok"]
    assert rig.ch["sms"].sent == []


async def test_temporary_failures_past_the_cap_move_to_the_next_endpoint(rig_factory):
    rig = await rig_factory()
    rig.ch["radio"].script("R1", TEMP, TEMP, TEMP, TEMP)
    ref = await dispatch_eng1(rig)
    for _ in range(4):
        await rig.advance(100)
    assert len(rig.ch["radio"].tries) == 4  # first try + max_retries (3)
    assert len(rig.ch["sms"].sent) == 1
    radio = (await rig.attempts(ref))[0]
    assert radio.state is DeliveryState.FAILED_PERMANENT


async def test_a_channel_reported_down_is_skipped_until_healthy(rig_factory):
    rig = await rig_factory()
    rig.ch["radio"].set_health(HealthState.DOWN, "broker unreachable")
    ref = await dispatch_eng1(rig)
    assert rig.ch["radio"].tries == []
    assert len(rig.ch["sms"].sent) == 1
    assert "delivery.skipped" in await rig.kinds(ref)
    rig.ch["radio"].set_health(HealthState.UP, "back")
    inc2 = await rig.gw.incidents.create(FIRE, source="desk", actor="test")
    await rig.gw.dispatch.dispatch(inc2.reference, ["ENG-2"], actor="test")
    await rig.settle()
    assert [s.address for s in rig.ch["radio"].sent] == ["R2"]


async def test_when_every_channel_is_down_the_delivery_waits_then_goes(rig_factory):
    rig = await rig_factory()
    for n in ("radio", "sms", "pager"):
        rig.ch[n].set_health(HealthState.DOWN, "outage")
    ref = await dispatch_eng1(rig)
    (d,) = await rig.deliveries(ref)
    assert d.completed_at is None and d.state is DeliveryState.PENDING
    assert "delivery.waiting" in await rig.kinds(ref)
    rig.ch["sms"].set_health(HealthState.UP, "restored")
    await until(lambda: len(rig.ch["sms"].sent) == 1, "sms sends once it is back")


async def test_one_way_channel_never_holds_the_ladder_for_an_ack(rig_factory):
    rig = await rig_factory(caps={"radio": ONE_WAY})
    ref = await dispatch_eng1(rig)
    assert len(rig.ch["radio"].sent) == 1
    assert len(rig.ch["sms"].sent) == 1  # straight on, no ack deadline wait
    radio = (await rig.attempts(ref))[0]
    assert (radio.state, radio.closed_reason) == (DeliveryState.SENT, "one_way")


async def test_per_destination_rate_limit_defers_without_failing(rig_factory):
    rig = await rig_factory(
        delivery={"rate_limits": [{"channel": "radio", "count": 1, "per_seconds": 60}], "retry_jitter": 0.0}
    )
    ref1 = await dispatch_eng1(rig)
    rig.ch["radio"].sent.clear()
    await rig.gw.stand_down.resolve(ref1, actor="test")  # stand-down to R1 is over the limit
    await rig.settle()
    assert rig.ch["radio"].sent == []
    assert "attempt.rate_limited" in await rig.kinds(ref1)
    await rig.advance(61)
    assert [s.purpose for s in rig.ch["radio"].sent] == ["stand_down"]


async def test_messages_are_fitted_to_the_channel_limit(rig_factory):
    rig = await rig_factory(caps={"radio": Capabilities(max_length=40, two_way=True)})
    long = {**FIRE, "nature": "large fire in a multi-storey car park with persons reported"}
    await dispatch_eng1(rig, long)
    (msg,) = rig.ch["radio"].sent
    assert len(msg.text) <= 40 and msg.text.endswith("...")


async def test_a_receipt_that_overtakes_its_send_is_applied_once_the_send_is_recorded(rig_factory):
    rig = await rig_factory(caps={"radio": CONFIRMING})
    rig.ch["radio"].script("R1", "early")
    ref = await dispatch_eng1(rig)

    async def delivered() -> bool:
        return (await rig.deliveries(ref))[0].state is DeliveryState.DELIVERED

    await until(delivered, "the early receipt applied")
    assert rig.gw.engine._parked == {}


async def test_evidence_after_the_send_is_added_to_its_attempt_and_changes_no_state(rig_factory):
    rig = await rig_factory(caps={"radio": TWO_WAY})
    # Evidence that overtakes the record of its send waits for it, as a receipt does.
    assert await rig.gw.engine.on_reports("radio", [AttemptEvidence("radio-1", {"digits": ""})]) == ["parked"]
    ref = await dispatch_eng1(rig)

    async def radio_evidence(key: str) -> bool:
        (radio,) = [a for a in await rig.attempts(ref) if a.channel == "radio"]
        return key in radio.evidence

    await until(lambda: radio_evidence("digits"), "the parked evidence applied once the send is recorded")
    rig.ch["radio"].emit(AttemptEvidence(channel_ref="radio-1", evidence={"talk_seconds": 12.5}))
    await until(lambda: radio_evidence("talk_seconds"), "the evidence applied")
    await rig.settle()
    (radio,) = [a for a in await rig.attempts(ref) if a.channel == "radio"]
    assert radio.channel_ref == "radio-1" and radio.evidence["scripted_ref"] == "radio-1"
    assert (radio.evidence["digits"], radio.evidence["talk_seconds"]) == ("", 12.5)
    assert (radio.state, radio.closed_reason) == (DeliveryState.SENT, None)
    assert (await rig.kinds(ref)).count("attempt.evidence") == 2
    assert rig.gw.engine._parked == {}


def _p1_ladder() -> dict:
    targets = {p: {"response_target": 600} for p in ("P2", "P3", "P4")}
    targets["P1"] = {"response_target": 480, "mode": "ladder"}
    return {"triage": {"targets": targets}}


async def test_a_p1_ladder_opens_its_next_endpoint_at_a_temporary_failure_while_it_retries(rig_factory):
    rig = await rig_factory(**_p1_ladder())
    rig.ch["radio"].script("R1", TEMP, TEMP)
    ref = await dispatch_eng1(rig, FIRE_P1)
    radio, sms = await rig.attempts(ref)  # no waiting for the radio's retries
    assert (radio.channel, radio.state, radio.closed_reason) == ("radio", D.FAILED_TEMPORARY, None)
    assert (sms.channel, sms.state) == ("sms", DeliveryState.SENT)
    assert rig.ch["pager"].sent == []  # one more endpoint per temporary failure, not the whole plan
    assert "delivery.hedged" in await rig.kinds(ref)
    rig.ch["sms"].reply("+447700900001", "ack")

    async def acked() -> bool:
        return (await rig.deliveries(ref))[0].state is DeliveryState.ACKNOWLEDGED

    await until(acked, "delivery acknowledged by SMS reply")
    radio, sms = await rig.attempts(ref)
    assert radio.closed_reason is not None  # the retry ends with the ack
    await rig.advance(100)
    assert len(rig.ch["radio"].tries) == 1  # and is never sent


async def test_a_p2_ladder_still_retries_before_it_moves_on(rig_factory):
    rig = await rig_factory(**_p1_ladder())
    rig.ch["radio"].script("R1", TEMP)
    ref = await dispatch_eng1(rig)
    (radio,) = await rig.attempts(ref)
    assert radio.state is DeliveryState.FAILED_TEMPORARY and rig.ch["sms"].sent == []
