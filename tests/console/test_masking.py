"""The console shows a viewer the caller's number masked and never looks the caller up; a
dispatcher sees it whole with the caller's history."""

from __future__ import annotations

from tests.api.conftest import CALLER
from tests.console.conftest import Desk, open_page, sign_in

MASKED = "+447*******21"


async def test_viewer_sees_the_number_masked_and_a_dispatcher_whole(desk: Desk, browser: object) -> None:
    inc = await desk.create(nature="smoke from a roof", caller_number=CALLER, caller_name="Ada Lovelace")
    ref = inc["reference"]
    for role, shown, hidden in (("viewer", MASKED, CALLER), ("dispatcher", CALLER, MASKED)):
        page = await open_page(browser, desk)
        asked: list[str] = []
        page.on("request", lambda req, asked=asked: asked.append(req.url))
        await sign_in(page, role)
        await page.locator("#queue button", has_text=ref).click()
        caller = page.locator(".caller")
        await caller.filter(has_text=shown).wait_for()
        assert hidden not in await page.content(), role
        if role == "viewer":
            await page.locator("#caller-masked").wait_for()
            assert "Lovelace" not in await page.content()
            assert not [u for u in asked if "/callers/" in u]
        else:
            assert await page.locator("#caller-masked").count() == 0
        assert page.errors == []
        await page.close()
