"""The page keeps telling the truth when the event stream drops: it says so, reconnects with
`?since=<last event id>`, replays what it missed and resynchronises the views."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

from tests.console.conftest import Desk, open_page, shot, sign_in


async def test_page_reconnects_and_resynchronises_after_the_websocket_drops(
    desk: Desk, browser: object
) -> None:
    page = await open_page(browser, desk)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await sign_in(page, "dispatcher")
    first = await desk.create(
        nature="alarm sounding", location="Block C", category="fire", impact=2, urgency=2
    )
    await page.locator("#queue li", has_text=first["reference"]).wait_for()
    assert len(sockets) == 1 and "since" not in parse_qs(urlsplit(sockets[0]).query)

    # The server goes away: the page says its view may be stale.
    await desk.stop_api()
    await page.locator("#link-status.down").wait_for()
    await page.locator("#banner").filter(has_text="Live updates stopped").wait_for()
    await shot(page, "12-connection-lost")

    # Something happens while the page is cut off.
    missed = await desk.gw.incidents.create(
        {"nature": "water leak", "location": "HQ basement", "category": "repair", "impact": 3, "urgency": 3},
        source="desk",
        actor="api:someone-else",
    )
    await asyncio.sleep(0.5)
    await desk.start_api()

    # Back: reconnected with ?since=, the missed events replayed, the queue resynchronised.
    await page.locator("#link-status.live").wait_for()
    await page.locator("#banner").filter(has_text="Reconnected").filter(has_text="missed event").wait_for()
    await page.locator("#queue li", has_text=missed.reference).wait_for()
    since = parse_qs(urlsplit(sockets[-1]).query).get("since")
    assert since and int(since[0]) > 0
    text = await page.locator("#banner").text_content() or ""
    assert "0 missed events" not in text
    await shot(page, "13-reconnected")
    assert page.errors == []
