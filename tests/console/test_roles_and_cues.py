"""What a viewer sees and may not do, and the escalation cue of an incident whose dispatch has gone
unacknowledged past its deadline: it stands out until the field acknowledges."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.domain.states import Priority
from gateway.settings import Settings
from tests.api.conftest import TOKENS, make_settings
from tests.console.conftest import Desk, open_page, shot, sign_in

ACK_DEADLINE = 1.5


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = make_settings(tmp_path)
    s.triage.targets[Priority.P1].ack_deadline = ACK_DEADLINE
    return s


async def test_viewer_cannot_dispatch_and_sees_the_ack_cue_until_the_field_answers(
    desk: Desk, browser: object
) -> None:
    inc = await desk.create(
        nature="smoke from a roof", location="1 High Street", category="fire", impact=1, urgency=1
    )
    ref = inc["reference"]
    assert inc["state"] == "triaged" and inc["recommendation"]

    page = await open_page(browser, desk)
    await sign_in(page, "viewer")
    assert not await page.locator("#new-incident").is_visible()
    await page.locator("#queue button", has_text=ref).click()
    await page.locator("#incident-title").filter(has_text=ref).wait_for()

    # The recommendation and its rationale are shown; the dispatch control is not.
    await page.locator(".rationale").first.filter(has_text="has fire").wait_for()
    await page.locator("#no-dispatch").filter(has_text="viewer").wait_for()
    assert await page.locator("#dispatch-button").count() == 0
    assert await page.locator(".unit-pick input").count() == 0
    assert await page.get_by_label("Nature").is_disabled()
    assert await page.locator('[data-key="act-resolve"]').count() == 0
    await page.keyboard.press("d")  # the shortcut does nothing either

    # And the API refuses the viewer's token, asked from the page itself.
    refused = await page.evaluate(
        """async ([ref, token]) => {
            const r = await fetch(`/api/v1/incidents/${ref}/dispatch`, {
                method: "POST",
                headers: {Authorization: `Bearer ${token}`, "Content-Type": "application/json"},
                body: JSON.stringify({resources: "recommended"}),
            });
            return [r.status, (await r.json()).error];
        }""",
        [ref, TOKENS["viewer"]],
    )
    assert refused == [403, "forbidden"]
    _, stored = await desk.call("GET", f"/api/v1/incidents/{ref}", role="viewer")
    assert stored["state"] == "triaged" and stored["deliveries"] == []
    await shot(page, "10-viewer")

    # A dispatcher dispatches elsewhere; the viewer watches. Nobody acknowledges in time.
    status, _ = await desk.call(
        "POST", f"/api/v1/incidents/{ref}/dispatch", json={"resources": "recommended"}
    )
    assert status == 201
    item = page.locator(f'#queue li[data-ref="{ref}"]')
    await page.locator('li.delivery[data-recipient="ENG-1"] .attempt').first.wait_for()
    await item.and_(page.locator(".alarm")).wait_for(timeout=ACK_DEADLINE * 1000 + 4000)
    cue = item.locator('[data-role="ack-cue"]')
    assert "No acknowledgement" in (await cue.text_content() or "")
    assert "(1 ⚠)" in await page.title()
    await shot(page, "11-ack-overdue-cue")

    # The optional sound (WebAudio) is switched on by a click, as browsers require.
    sound = page.get_by_role("button", name="Sound off")
    await sound.click()
    assert await page.locator("#sound-toggle").get_attribute("aria-pressed") == "true"
    assert await page.evaluate("typeof AudioContext") == "function"

    # Silencing the sound keeps the cue; only the field's (late) acknowledgement ends it.
    await page.locator("#main").focus()
    await page.keyboard.press("m")
    await page.locator("#banner").filter(has_text="silenced").wait_for()
    assert await item.and_(page.locator(".alarm")).count() == 1
    desk.desk.reply("eng-2", "EN ROUTE")
    await page.locator(".part-header .state-acknowledged").wait_for()
    await item.and_(page.locator(".alarm")).wait_for(state="detached")
    assert await cue.is_hidden()
    assert page.errors == []
