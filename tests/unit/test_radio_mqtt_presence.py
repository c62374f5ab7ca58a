"""What the MQTT radio channel knows about presence across a reconnect (adapters.radio_mqtt.presence):
a radio is reachable only through its gateway, so it is not fresh until both are read again."""

from __future__ import annotations

import asyncio

from adapters.radio_mqtt.codec import Presence
from adapters.radio_mqtt.presence import PresenceBook


def book_with_fleet() -> PresenceBook:
    book = PresenceBook()
    book.open()
    book.gateway_status("gw-0", Presence(True))
    book.radio_status("R1", Presence(True, "gw-0"))
    book.radio_status("R2", Presence(True))  # no gateway named
    return book


async def test_a_radio_read_again_stays_stale_until_its_gateway_is_read_again() -> None:
    book = book_with_fleet()
    assert book.online("R1") is True and not book.is_stale("R1")
    book.reconnected()
    assert book.online("R1") is None and book.is_stale("R1") and "gw-0" in book.stale_gateways
    # The broker sends the radios' retained statuses first, the gateways' after them.
    book.radio_status("R1", Presence(True, "gw-0"))
    assert book.is_stale("R1") and book.online("R1") is None and book.offline_reason("R1") == ""
    book.gateway_status("gw-0", Presence(False))
    assert not book.is_stale("R1") and book.online("R1") is False
    assert book.offline_reason("R1") == "radio R1 is offline: its gateway gw-0 is offline"


async def test_a_radio_without_a_gateway_is_fresh_once_its_own_status_is_read() -> None:
    book = book_with_fleet()
    book.reconnected()
    book.radio_status("R2", Presence(True))
    assert not book.is_stale("R2") and book.online("R2") is True


async def test_a_radio_first_heard_behind_a_stale_gateway_is_stale_too() -> None:
    book = book_with_fleet()
    book.reconnected()
    book.radio_status("R7", Presence(True, "gw-0"))
    assert book.is_stale("R7") and book.online("R7") is None
    book.gateway_status("gw-0", Presence(None))  # the gateway's retained status was cleared
    assert not book.is_stale("R7") and book.online("R7") is True  # unknown gateway: as before


async def test_wait_fresh_waits_for_the_gateway_as_well() -> None:
    book = book_with_fleet()
    book.reconnected()
    waiting = asyncio.ensure_future(book.wait_fresh("R1", 5.0))
    book.radio_status("R1", Presence(True, "gw-0"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not waiting.done()
    book.gateway_status("gw-0", Presence(True))
    assert await waiting is True
    book.reconnected()
    assert await book.wait_fresh("R1", 0.05) is False  # nothing read again: gives up in time
