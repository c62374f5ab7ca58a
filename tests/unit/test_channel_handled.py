"""The Channel contract's confirmation hook (adapters/base.py): an event's `on_handled` runs at
once without a holding consumer, and only on `handled` with one; unknown events are ignored."""

from __future__ import annotations

from adapters.base import Capabilities, Channel, InboundText, OutboundMessage, SendReceipt


class Quiet(Channel):
    kind = "quiet"

    async def send(self, message: OutboundMessage) -> SendReceipt:
        return SendReceipt()


def test_confirmed_at_once_without_a_holding_consumer():
    ch = Quiet(name="q", capabilities=Capabilities())
    confirmed: list[str] = []
    ch.emit(InboundText("A", "ACK"), on_handled=lambda: confirmed.append("A"))
    ch.emit(InboundText("B", "ACK"))  # nothing to confirm: fine
    assert confirmed == ["A"]


def test_held_until_the_core_says_handled_and_only_those_it_names():
    ch = Quiet(name="q", capabilities=Capabilities())
    assert not ch.holding
    ch.hold_until_handled()
    assert ch.holding
    confirmed: list[str] = []
    one, two, same_as_one = InboundText("A", "ACK"), InboundText("B", "ACK"), InboundText("A", "ACK")
    for event in (one, two, same_as_one):
        ch.emit(event, on_handled=lambda e=event: confirmed.append(e.address + str(id(e) == id(one))))
    assert confirmed == []
    ch.handled([two])
    assert confirmed == ["BFalse"]
    ch.handled([one, InboundText("Z", "never emitted")])  # equal events are told apart
    assert confirmed == ["BFalse", "ATrue"]
    ch.handled([one])  # twice: confirmed once
    assert confirmed == ["BFalse", "ATrue"]
    ch.forget_unhandled()  # the link is gone; the peer sends it again
    ch.handled([same_as_one])
    assert confirmed == ["BFalse", "ATrue"]
