"""Nothing moves under the dispatcher: a call arriving while any view is open is announced (banner,
queue highlight) and changes neither the view nor the incident on screen; O takes it. Every action
names its incident and sends that reference; errors use the page's words; the header fits."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.base import HealthState
from gateway.api import ApiServer
from gateway.app import Gateway
from gateway.settings import ChannelConfig
from tests.api.conftest import CALLER, DESK_CAPS, make_settings
from tests.console.conftest import Desk, open_page, shot, sign_in
from tests.support.scripted import ScriptedChannel

FIRE = {"location": "Dock 4", "category": "fire", "impact": 1, "urgency": 1}


async def incoming_call(desk: Desk, nature: str = "caller reports smoke") -> str:
    inc = await desk.create(nature=nature, source="call", caller_number=CALLER)
    ref: str = inc["reference"]
    return ref


async def test_a_call_changes_neither_the_view_nor_the_incident_shown(desk: Desk, browser: Any) -> None:
    shown = (await desk.create(nature="warehouse fire", **FIRE))["reference"]
    page = await open_page(browser, desk)
    await sign_in(page, "supervisor")
    await page.locator("#queue button", has_text=shown).click()
    title = page.locator("#incident-title")
    await title.filter(has_text=shown).wait_for()
    banner = page.locator("#call-banner")

    calls: list[str] = []
    for key, view in (("1", "queue"), ("2", "board"), ("3", "kpis"), ("4", "review")):
        await page.locator("#main").focus()
        await page.keyboard.press(key)
        await page.locator(f'.tab[data-view="{view}"][aria-current="page"]').wait_for()
        ref = await incoming_call(desk, f"call while {view} is open")
        calls.append(ref)
        await banner.filter(has_text=calls[0]).wait_for()
        if len(calls) > 1:
            await banner.filter(has_text=f"{len(calls) - 1} more call").wait_for()
        await page.locator(f'#queue li.incoming[data-ref="{ref}"]').wait_for(state="attached")
        # The announcement arrived; the view and the incident on screen are what they were.
        assert await page.locator(f'section.view[data-view="{view}"]').is_visible()
        assert await page.locator(".tab[aria-current='page']").get_attribute("data-view") == view
        assert (await title.text_content() or "").strip() == shown
        await shot(page, f"20-call-during-{view}")

    # O takes the oldest waiting call, on the desk, with its screen-pop; the next one is announced.
    await page.locator("#main").focus()
    await page.keyboard.press("o")
    await title.filter(has_text=calls[0]).wait_for()
    await page.locator(".pop").filter(has_text="Incoming call").wait_for()
    await banner.filter(has_text=f"Incoming call: {calls[1]}").wait_for()
    assert await page.locator(f'#queue li.incoming[data-ref="{calls[0]}"]').count() == 0

    # The banner clears when its subject is handled elsewhere (here: cancelled by a supervisor).
    for ref in calls[1:]:
        status, body = await desk.call("POST", f"/api/v1/incidents/{ref}/cancel", role="supervisor", json={})
        assert status == 200, body
    await banner.wait_for(state="hidden")
    assert page.errors == []


async def test_a_key_action_acts_on_the_incident_shown(desk: Desk, browser: Any) -> None:
    mine = (await desk.create(nature="bin fire", **FIRE))["reference"]
    status, body = await desk.call("POST", f"/api/v1/incidents/{mine}/resolve", json={"note": "out"})
    assert status == 200, body
    page = await open_page(browser, desk)
    await sign_in(page, "supervisor")
    await page.get_by_label("Filter by state").select_option("resolved")
    await page.locator("#queue button", has_text=mine).click()
    await page.locator(".part-header .state-resolved").wait_for()
    # The action's button names the incident.
    await page.get_by_role("button", name=f"Close {mine}").wait_for()
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)

    # A call pops in while the dispatcher is about to close: the close still goes to `mine`.
    other = await incoming_call(desk)
    await page.locator("#call-banner").filter(has_text=other).wait_for()
    await page.locator("#main").focus()
    await page.keyboard.press("c")
    dialog = page.locator("#confirm")
    await dialog.locator("#confirm-title").filter(has_text=f"Close {mine}?").wait_for()
    await dialog.get_by_role("button", name=f"Close {mine}").click()
    await page.locator(".part-header .state-closed").wait_for()
    assert [u for u in posted if "/incidents/" in u] == [f"{desk.url}/api/v1/incidents/{mine}/close"]
    _, stored = await desk.call("GET", f"/api/v1/incidents/{other}")
    assert stored["state"] == "new"
    assert (await page.locator("#incident-title").text_content() or "").strip() == mine
    assert page.errors == []


async def test_a_refused_move_is_said_in_the_words_of_the_page(desk: Desk, browser: Any) -> None:
    ref = (await desk.create(nature="bin fire", **FIRE))["reference"]
    status, _ = await desk.call(
        "POST", f"/api/v1/incidents/{ref}/dispatch", json={"resources": "recommended"}
    )
    assert status == 201
    status, refused = await desk.call("POST", f"/api/v1/incidents/{ref}/close", role="supervisor", json={})
    assert status == 409
    assert "IncidentState" not in refused["message"] and "<" not in refused["message"]
    page = await open_page(browser, desk)
    await sign_in(page, "supervisor")
    text = await page.evaluate(
        """async (body) => {
            const m = await import('/console/api.js');
            return new m.ApiError(409, body).describe();
        }""",
        refused,
    )
    assert text == f"{ref} is Dispatched, so it cannot be closed. Resolve or cancel it first."


@contextlib.asynccontextmanager
async def eight_channel_desk(tmp_path: Path) -> AsyncIterator[Desk]:
    names = [
        "desk",
        "hook",
        "radio-north-fleet",
        "aprs-tnc",
        "gsm-modem-pool",
        "operator-smsc",
        "tap-paging",
        "snpp-bureau",
    ]
    settings = make_settings(tmp_path)
    settings.channels += [ChannelConfig(name=n, kind="scripted") for n in names[2:]]
    channels = {n: ScriptedChannel(n, caps=DESK_CAPS) for n in names}
    async with (
        Gateway(settings, channels=dict(channels)) as gw,
        gw.running(),
        aiohttp.ClientSession() as session,
    ):
        channels["tap-paging"].set_health(HealthState.DOWN, "line dropped")
        server = ApiServer(gw, "127.0.0.1", 0)
        await server.__aenter__()
        try:
            yield Desk(
                gw=gw,
                server=server,
                session=session,
                desk=channels["desk"],
                hook=channels["hook"],
                port=server.port,
            )
        finally:
            await server.__aexit__(None, None, None)


@pytest.mark.parametrize("width", [1024, 1440, 1920])
async def test_the_header_fits_and_channel_health_is_a_summary(
    tmp_path: Path, browser: Any, width: int
) -> None:
    async with eight_channel_desk(tmp_path) as desk:
        page = await open_page(browser, desk)
        await page.set_viewport_size({"width": width, "height": 800})
        await sign_in(page, "dispatcher")
        summary = page.locator("#channel-summary")
        await summary.filter(has_text="7 up · 1 down").wait_for()
        overflow = await page.evaluate(
            """() => {
                const w = document.documentElement.clientWidth;
                const out = [...document.querySelectorAll('.topbar *')]
                    .filter((el) => el.getClientRects().length && el.getBoundingClientRect().right > w + 0.5)
                    .map((el) => el.id || el.className || el.tagName);
                return {scroll: document.documentElement.scrollWidth - w, out};
            }"""
        )
        assert overflow == {"scroll": 0, "out": []}, overflow
        for control in ("#help-open", "#signout", "#who", "#sound-toggle"):
            assert await page.locator(control).is_visible(), control
        await shot(page, f"21-header-{width}")
        # The summary opens the detail: every channel with its state and reason.
        await summary.click()
        strip = page.locator("#channel-strip")
        await strip.locator(".chip").nth(7).wait_for()
        await strip.locator(".chip.health-down").filter(has_text="tap-paging").wait_for()
        assert await strip.locator(".chip.health-down").get_attribute("title") == "line dropped"
        await shot(page, f"22-channel-detail-{width}")
        assert page.errors == []
