"""The board shows each unit's last position and how old it is, marks a stale one, and follows a
new fix live (a `unit.position` event on the WebSocket refreshes the units)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from gateway.settings_positions import Gazetteer, Place
from tests.api.conftest import HOOK_SECRET
from tests.console.conftest import Desk, open_page, shot, sign_in


async def _fix(desk: Desk, lat: float, lon: float, observed_at: float) -> None:
    body = {"type": "position", "address": "R1", "lat": lat, "lon": lon, "observed_at": observed_at}
    async with desk.session.post(
        desk.url + "/api/v1/channels/hook/inbound", json=body, headers={"X-Callout-Secret": HOOK_SECRET}
    ) as resp:
        assert resp.status == 200, await resp.text()


async def _shows(field: Any, value: str) -> None:
    for _ in range(100):
        if await field.input_value() == value:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the field shows {await field.input_value()!r}, not {value!r}")


async def test_the_board_shows_last_position_and_age(desk: Desk, browser: Any) -> None:
    await _fix(desk, 51.5072, -0.1276, time.time() - 600)  # ten minutes old: stale (max_age 300 s)
    page = await open_page(browser, desk)
    await sign_in(page, "viewer")
    await page.locator("#main").focus()
    await page.keyboard.press("2")
    rescue = page.locator("tr[data-unit='RESCUE-1'] td[data-position]")
    await rescue.filter(has_text="51.5072, -0.1276").filter(has_text="10m ago").wait_for()
    assert await rescue.get_attribute("data-position") == "stale"
    assert "hook" in await rescue.inner_text()
    assert await page.locator("tr[data-unit='ENG-1'] td[data-position]").inner_text() == "no position"

    await _fix(desk, 51.5101, -0.1302, time.time())  # a fresh fix arrives: the board follows it
    await rescue.filter(has_text="51.5101, -0.1302").wait_for()
    assert await rescue.get_attribute("data-position") == "fresh"
    await shot(page, "board-positions")
    assert page.errors == []


async def test_the_form_takes_coordinates_or_shows_the_gazetteers(desk: Desk, browser: Any) -> None:
    desk.gw.settings.gazetteer = Gazetteer(places=[Place(name="High Street", lat=51.4, lon=-0.3)])
    inc = await desk.create(nature="smoke", location="1 High Street", category="fire", impact=1, urgency=1)
    page = await open_page(browser, desk)
    await sign_in(page, "dispatcher")
    await page.locator(f'#queue li[data-ref="{inc["reference"]}"]').click()
    coords = page.get_by_label("Coordinates")
    await _shows(coords, "51.4, -0.3")  # the gazetteer's, filled in by the server

    # Coordinates the page cannot read are refused next to the field, before anything is sent.
    await coords.fill("north of the bridge")
    await page.keyboard.press("Control+s")
    await page.locator("#f-coords-error").filter(has_text="Two numbers").wait_for()

    # Typed ones are saved as lat and lon; the rationale weighs positions (these units have none).
    await coords.fill("51.4100, -0.3000")
    await page.keyboard.press("Control+s")
    await _shows(coords, "51.41, -0.3")
    await page.locator(".rationale").filter(has_text="ENG-1").filter(has_text="no position").wait_for()
    _, stored = await desk.call("GET", f"/api/v1/incidents/{inc['reference']}")
    assert (stored["lat"], stored["lon"]) == (51.41, -0.3)
    assert page.errors == []
