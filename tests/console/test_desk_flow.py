"""One incident through the desk console in a real browser: a call pops up, the form refuses a
missing field and shows the API's reason for a bad one, triage, dispatch, the field's ack arriving on
the timeline without a reload, resolve, a supervisor closes it, and the review is exported."""

from __future__ import annotations

import asyncio

from tests.api.conftest import CALLER
from tests.console.conftest import Desk, open_page, shot, sign_in


async def test_call_to_review_in_the_browser(desk: Desk, browser: object) -> None:
    earlier = await desk.create(
        nature="asked about a burning smell",
        location="1 High Street",
        category="enquiry",
        impact=3,
        urgency=3,
        caller_number=CALLER,
    )
    page = await open_page(browser, desk)
    await page.get_by_label("API token").wait_for()
    await shot(page, "01-sign-in")
    await sign_in(page, "dispatcher")
    await page.evaluate("window.__sameDocument = true")

    # A call is answered: the incident is created through the API with the caller's number.
    inc = await desk.create(
        nature="smoke from a roof", source="call", caller_number=CALLER, caller_name="Ada Lovelace"
    )
    ref = inc["reference"]
    # The call is announced, not forced on the desk: one key (O) takes it.
    await page.locator("#call-banner").filter(has_text=f"Incoming call: {ref}").wait_for()
    await page.locator(f'#queue li.incoming[data-ref="{ref}"]').wait_for()
    await page.keyboard.press("o")
    title = page.locator("#incident-title")
    await title.filter(has_text=ref).wait_for()
    await page.locator("#call-banner").wait_for(state="hidden")
    pop = page.locator(".pop")
    await pop.filter(has_text="Incoming call").wait_for()
    caller = page.locator(".caller")
    await caller.filter(has_text=CALLER).wait_for()
    await caller.get_by_role("button", name=earlier["reference"]).wait_for()
    await page.locator("#queue li", has_text=ref).wait_for()
    # The call-taker is put straight into the first empty required field.
    assert await page.evaluate("document.activeElement.id") == "f-location"
    await shot(page, "02-screen-pop")

    # First a required field left empty: the page refuses before sending, next to the field.
    await page.get_by_label("Category", exact=True).fill("fire")
    await page.get_by_label("Impact").select_option("1")
    await page.get_by_label("Urgency").select_option("1")
    await page.keyboard.press("Control+s")
    await page.locator("#f-location-error").filter(has_text="Required").wait_for()
    assert await page.get_by_label("Location").get_attribute("aria-invalid") == "true"
    _, stored = await desk.call("GET", f"/api/v1/incidents/{ref}")
    assert stored["category"] is None  # nothing was sent

    # Then a value only the server can judge: its 422 reason appears next to that field.
    await page.get_by_label("Location").fill("1 High Street")
    await page.get_by_label("Caller number").fill("call me")
    await page.keyboard.press("Control+s")
    await page.locator("#f-caller_number-error").filter(has_text="phone number").wait_for()
    assert await page.locator("#f-location-error").text_content() == ""
    await shot(page, "03-form-errors")

    # Fixed and saved: the server triages it and recommends units with its rationale.
    await page.get_by_label("Caller number").fill(CALLER)
    await page.keyboard.press("Control+s")
    await page.locator(".part-header .prio-P1").filter(has_text="P1 critical").wait_for()
    await page.locator(".part-header .state-triaged").wait_for()
    rationale = page.locator(".rationale")
    await rationale.first.filter(has_text="has fire").wait_for()
    assert await rationale.count() == 2
    await shot(page, "04-triaged")

    # Dispatch from the keyboard: leave the field, press D.
    await page.keyboard.press("Escape")
    await page.keyboard.press("d")
    eng1 = page.locator('li.delivery[data-recipient="ENG-1"]')
    eng2 = page.locator('li.delivery[data-recipient="ENG-2"]')
    for unit in (eng1, eng2):
        await unit.locator('[data-role="delivery-state"]').filter(has_text="Sent, no receipt yet").wait_for()
        await unit.locator(".attempt").filter(has_text="desk").wait_for()
    await page.locator(".part-header .state-dispatched").wait_for()

    # The field answers on ENG-1's channel; the timeline shows it without a reload.
    await asyncio.sleep(0.3)
    desk.desk.reply("eng-1", "ACK")
    await eng1.locator('[data-role="delivery-state"]').filter(has_text="Acknowledged").wait_for()
    await eng1.locator(".ackline").filter(has_text="field:ENG-1").wait_for()
    await eng2.locator('[data-role="delivery-state"]').filter(has_text="Sent, no receipt yet").wait_for()
    await page.locator(".part-header .state-acknowledged").wait_for()
    assert await page.evaluate("window.__sameDocument") is True
    await shot(page, "05-dispatch-timeline")

    # Resolve: a confirmation, then stand-downs go out to both units.
    await page.keyboard.press("r")
    dialog = page.locator("#confirm")
    await dialog.get_by_label("Note (optional)").fill("fire out")
    await dialog.get_by_role("button", name="Resolve").click()
    await page.locator(".part-header .state-resolved").wait_for()
    await page.locator("li.delivery", has_text="Stand-down").first.wait_for()
    # A dispatcher may not close: the control is not offered.
    assert await page.locator('[data-key="act-close"]').count() == 0

    # A supervisor closes it from another desk, and opens the review.
    sup = await open_page(browser, desk)
    await sign_in(sup, "supervisor")
    await sup.get_by_label("Filter by state").select_option("resolved")
    await sup.locator("#queue button", has_text=ref).click()
    await sup.locator(".part-header .state-resolved").wait_for()
    await sup.keyboard.press("c")
    await sup.locator("#confirm").get_by_label("Lessons learned (optional)").fill("hydrant map out of date")
    await sup.locator("#confirm").get_by_role("button", name="Close").click()
    await sup.locator(".part-header .state-closed").wait_for()
    await page.locator(".part-header .state-closed").wait_for()  # the dispatcher sees it live
    await sup.keyboard.press("v")
    review = sup.locator("article.review")
    await review.locator("#review-title").filter(has_text=ref).wait_for()
    await review.filter(has_text="hydrant map out of date").wait_for()
    await shot(sup, "06-review")
    async with sup.expect_download() as md_info:
        await sup.get_by_role("button", name="Export Markdown").click()
    markdown = (await (await md_info.value).path()).read_text()
    assert markdown.startswith(f"# Post-incident review: {ref}")
    async with sup.expect_download() as json_info:
        await sup.get_by_role("button", name="Export JSON").click()
    exported = (await (await json_info.value).path()).read_text()
    assert f'"reference": "{ref}"' in exported

    # The other main views, for the record.
    await page.keyboard.press("2")
    await page.locator("tr[data-unit='ENG-1']").wait_for()
    await page.locator(".channels li", has_text="desk").wait_for()
    await shot(page, "07-board")
    await page.keyboard.press("3")
    await page.locator(".chart svg").first.wait_for()
    await page.locator(".chart", has_text="Delivery per channel").filter(has_text="accepted").wait_for()
    await shot(page, "08-kpis")
    await page.keyboard.press("1")
    await page.keyboard.press("?")
    await page.locator("#help[open]").wait_for()
    await shot(page, "09-help")
    await page.keyboard.press("Escape")
    await page.locator("#help[open]").wait_for(state="detached")
    assert page.errors == [] and sup.errors == []


async def test_keyboard_queue_filters_new_incident_and_unit_status(desk: Desk, browser: object) -> None:
    fire = {"location": "Dock 4", "category": "fire"}
    p3 = await desk.create(nature="bin fire", impact=2, urgency=2, **fire)
    p1 = await desk.create(nature="warehouse fire", impact=1, urgency=1, **fire)
    p4 = await desk.create(
        nature="opening hours?", location="Library", category="enquiry", impact=3, urgency=3
    )
    page = await open_page(browser, desk)
    await sign_in(page, "dispatcher")
    queue = page.locator("#queue li[data-ref]")
    await queue.nth(2).wait_for()
    assert await queue.evaluate_all("els => els.map(e => e.dataset.ref)") == [
        p1["reference"],
        p3["reference"],
        p4["reference"],
    ]

    # J, J, Enter opens the second incident in the queue.
    await page.keyboard.press("j")
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")
    await page.locator("#incident-title").filter(has_text=p3["reference"]).wait_for()

    # "/" jumps to the category filter; priority checkboxes filter too (both through the API).
    await page.keyboard.press("/")
    await page.keyboard.type("enquiry")
    await page.locator(f'#queue li[data-ref="{p1["reference"]}"]').wait_for(state="detached")
    assert await queue.count() == 1
    await page.get_by_label("Filter by category").fill("")
    await page.locator(f'#queue li[data-ref="{p1["reference"]}"]').wait_for()
    await page.get_by_label("P1", exact=True).check()
    await page.locator(f'#queue li[data-ref="{p4["reference"]}"]').wait_for(state="detached")
    assert await queue.evaluate_all("els => els.map(e => e.dataset.ref)") == [p1["reference"]]
    await page.get_by_label("P1", exact=True).uncheck()
    await queue.nth(2).wait_for()

    # N starts a new incident from the desk; Ctrl+S creates it and the server triages it.
    await page.locator("#main").focus()
    await page.keyboard.press("n")
    assert await page.evaluate("document.activeElement.id") == "f-nature"
    await page.keyboard.type("gas smell in corridor")
    await page.get_by_label("Location").fill("Block B, level 2")
    await page.get_by_label("Category", exact=True).fill("fire")
    await page.get_by_label("Impact").select_option("2")
    await page.get_by_label("Urgency").select_option("1")
    # Classification and priority follow the fields as they change, before anything is saved.
    live = page.locator("#live-triage")
    await live.locator(".prio-P2").wait_for()
    assert "incident" in (await live.text_content() or "").lower()
    await page.get_by_label("Urgency").select_option("3")
    await live.locator(".prio-P4").wait_for()
    await page.get_by_label("Urgency").select_option("1")
    await live.locator(".prio-P2").wait_for()
    await page.keyboard.press("Control+s")
    await page.locator(".part-header .prio-P2").wait_for()
    created = (await page.locator("#incident-title").text_content() or "").strip()
    _, stored = await desk.call("GET", f"/api/v1/incidents/{created}")
    assert (stored["source"], stored["priority"], stored["location"]) == ("desk", "P2", "Block B, level 2")

    # Units board: a dispatcher takes ENG-2 out of service; the dispatch panel then refuses it.
    await page.locator("#main").focus()
    await page.keyboard.press("2")
    await page.get_by_label("Status of ENG-2").select_option("out_of_service")
    await page.locator("#view-board .flash").filter(has_text="ENG-2 set to Out of service").wait_for()
    await page.keyboard.press("1")
    await page.locator("#queue button", has_text=p1["reference"]).click()
    pick = page.locator("#pick-ENG-2")
    await pick.wait_for()
    assert await pick.is_disabled()
    assert page.errors == []
