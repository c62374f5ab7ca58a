"""The caller survey's timers on a manual clock, on SQLite and PostgreSQL: it goes out `delay`
seconds after the resolution, a reply however the number is written is its score, a reply after
`window` is not taken, and a caller erased before the send is not messaged."""

from __future__ import annotations

from typing import Any

from gateway.domain.states import DeliveryState, Purpose
from tests.support.engine import FIRE
from tests.support.waiting import until

CALLER = "+447700900123"
SURVEY = {"channel": "sms", "delay": 600, "window": 3600, "check_interval": 86400}  # sweeps run by the test
CHANNELS = [
    {"name": "radio", "kind": "webhook", "options": {"url": "http://127.0.0.1:9/"}},
    {"name": "sms", "kind": "sms_http", "options": {"url": "http://127.0.0.1:9/sms"}},
    {"name": "pager", "kind": "webhook", "options": {"url": "http://127.0.0.1:9/"}},
]


async def resolved_with_consent(rig: Any) -> str:
    inc = await rig.gw.incidents.create({**FIRE, "caller_number": CALLER}, source="desk", actor="test")
    await rig.gw.survey.consent(inc.reference, True, actor="desk")
    await rig.gw.stand_down.resolve(inc.reference, actor="test")
    await rig.settle()
    return inc.reference


def to_caller(rig: Any) -> list[str]:
    return [s.text for s in rig.ch["sms"].sent if s.address == CALLER]


async def test_the_survey_waits_for_its_delay_and_takes_the_reply(rig_factory):
    rig = await rig_factory(channels=CHANNELS, survey=SURVEY)
    ref = await resolved_with_consent(rig)
    assert to_caller(rig) == []
    rig.clock.advance(599)
    assert await rig.gw.survey.check() == 0
    rig.clock.advance(1)
    assert await rig.gw.survey.check() == 1
    await rig.settle()
    (text,) = to_caller(rig)
    assert ref in text and "1 (not at all) to 5 (very)" in text
    (survey,) = [d for d in await rig.deliveries(ref) if d.purpose is Purpose.SURVEY]
    assert survey.state is DeliveryState.SENT and not survey.needs_ack

    rig.ch["sms"].reply("07700 900123", " 3. ")  # the same number, written nationally
    await rig.settle()

    async def score() -> Any:
        return (await rig.gw.survey.survey(ref))["score"]

    await until(score, "the score stored")
    assert (await rig.gw.survey.survey(ref))["state"] == "answered" and await score() == 3


async def test_a_reply_after_the_window_is_not_taken(rig_factory):
    rig = await rig_factory(channels=CHANNELS, survey={**SURVEY, "delay": 0})
    ref = await resolved_with_consent(rig)
    assert len(to_caller(rig)) == 1  # no delay: with the resolution
    rig.clock.advance(3600)
    await rig.gw.survey.check()
    assert (await rig.gw.survey.survey(ref))["state"] == "expired"
    unmatched = rig.gw.metrics.garbled.labels("sms")._value.get()
    rig.ch["sms"].reply(CALLER, "5")

    await until(lambda: rig.gw.metrics.garbled.labels("sms")._value.get() == unmatched + 1, "the late reply")
    survey = await rig.gw.survey.survey(ref)
    assert survey["state"] == "expired" and survey["score"] is None


async def test_a_caller_erased_before_the_send_is_not_messaged(rig_factory):
    rig = await rig_factory(channels=CHANNELS, survey=SURVEY)
    ref = await resolved_with_consent(rig)
    await rig.gw.stand_down.close(ref, actor="test")
    await rig.gw.privacy.erase(CALLER, reason="request 17", actor="dpo")
    rig.clock.advance(600)
    assert await rig.gw.survey.check() == 0
    await rig.settle()
    assert to_caller(rig) == []
    assert (await rig.gw.survey.survey(ref))["state"] == "withdrawn"
    assert [d for d in await rig.deliveries(ref) if d.purpose is Purpose.SURVEY] == []
