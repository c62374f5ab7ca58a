"""The board shows each unit's last position and how old it is, marks a stale one, and follows a
new fix live (a `unit.position` event on the WebSocket refreshes the units)."""

from __future__ import annotations

import time
from typing import Any

from tests.api.conftest import HOOK_SECRET
from tests.console.conftest import Desk, open_page, shot, sign_in


async def _fix(desk: Desk, lat: float, lon: float, observed_at: float) -> None:
    body = {"type": "position", "address": "R1", "lat": lat, "lon": lon, "observed_at": observed_at}
    async with desk.session.post(
        desk.url + "/api/v1/channels/hook/inbound", json=body, headers={"X-Callout-Secret": HOOK_SECRET}
    ) as resp:
        assert resp.status == 200, await resp.text()


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
