"""Stakeholder updates: a group hears about the stages it listens for and on its timer while the
incident is open (a manual clock drives the timer loop); the updates are informational deliveries
through the engine (no ack, never escalated, not cancelled by the resolution) and the review
lists them."""

from __future__ import annotations

from gateway.domain.states import DeliveryOutcome, Purpose, RecipientKind
from gateway.services.review import build_review, review_markdown
from tests.support.engine import FIRE

UPDATES = {
    # The timer loop wakes on the manual clock only after a day: the test runs its checks itself.
    "check_interval": 86400,
    "groups": [
        {
            "group": "duty-managers",
            "stages": ["dispatched", "resolved"],
            "priorities": ["P1", "P2"],
            "every": {"P2": 1800},
            "templates": {"resolved": "{ref} all clear at {location} ({state})"},
        }
    ],
}
DUTY_MANAGER = "+447700900099"


def texts_to(rig, address: str) -> list[str]:
    return [s.text for s in rig.ch["sms"].sent if s.address == address]


async def test_a_group_hears_of_dispatch_on_its_timer_and_of_the_resolution(rig_factory):
    rig = await rig_factory(updates=UPDATES, escalation={"levels": {}})
    inc = await rig.gw.incidents.create(FIRE, source="desk", actor="test")  # P2; "opened" not listened for
    await rig.settle()
    assert texts_to(rig, DUTY_MANAGER) == []

    await rig.gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="test")
    await rig.settle()
    (dispatched,) = texts_to(rig, DUTY_MANAGER)
    assert dispatched == f"{inc.reference} P2 FIRE units dispatched: kitchen fire at 1 High St"

    # The timer: nothing before 30 minutes since the last update, one update at 30 minutes.
    rig.clock.advance(1799)
    assert await rig.gw.updates.check() == 0
    rig.clock.advance(1)
    assert await rig.gw.updates.check() == 1
    assert await rig.gw.updates.check() == 0  # the next one is 30 minutes after this one
    await rig.settle()
    assert len(texts_to(rig, DUTY_MANAGER)) == 2
    assert (
        texts_to(rig, DUTY_MANAGER)[1]
        == f"{inc.reference} P2 FIRE still dispatched: kitchen fire at 1 High St"
    )

    await rig.gw.stand_down.resolve(inc.reference, actor="test")
    await rig.settle()
    assert texts_to(rig, DUTY_MANAGER)[2] == f"{inc.reference} all clear at 1 High St (resolved)"

    updates = [d for d in await rig.deliveries(inc.reference) if d.purpose is Purpose.UPDATE]
    assert [(d.recipient_kind, d.recipient_id, d.needs_ack) for d in updates] == [
        (RecipientKind.STAKEHOLDER, "DM-1", False)
    ] * 3
    # "Sent" is the channel's acceptance: each ended sent, none cancelled by the resolution.
    assert [d.outcome for d in updates] == [DeliveryOutcome.SENT] * 3
    kinds = await rig.kinds(inc.reference)
    assert kinds.count("stakeholder.updated") == 3
    assert "incident.escalated" not in kinds

    async with rig.gw.store.read() as tx:
        review = await build_review(tx, inc.reference, rig.gw.settings)
    assert [(u["stage"], u["group"]) for u in review["stakeholder_updates"]] == [
        ("dispatched", "duty-managers"),
        ("timer", "duty-managers"),
        ("resolved", "duty-managers"),
    ]
    assert review["stakeholder_updates"][0]["deliveries"] == [
        {"recipient": "DM-1", "state": "sent", "outcome": "sent"}
    ]
    assert "- " in review_markdown(review).split("## Stakeholder updates")[1]


async def test_no_timed_update_after_the_incident_is_resolved(rig_factory):
    rig = await rig_factory(updates=UPDATES)
    inc = await rig.gw.incidents.create(FIRE, source="desk", actor="test")
    await rig.gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="test")
    await rig.gw.stand_down.resolve(inc.reference, actor="test")
    await rig.settle()
    assert len(texts_to(rig, DUTY_MANAGER)) == 2  # dispatched, resolved
    rig.clock.advance(3600)
    assert await rig.gw.updates.check() == 0


async def test_a_long_template_is_fitted_to_the_channel(rig_factory):
    long = {**FIRE, "nature": "warehouse fire spreading to the neighbouring units " * 6}
    rig = await rig_factory(updates={"groups": [{"group": "duty-managers", "stages": ["opened"]}]})
    inc = await rig.gw.incidents.create(long, source="desk", actor="test")
    await rig.settle()
    (text,) = texts_to(rig, DUTY_MANAGER)
    assert len(text) <= 160 and text.startswith(f"{inc.reference} P2 FIRE opened:") and text.endswith("...")
