"""The hazards register at the desk: a hazard at the location is shown as soon as the location is
typed and when the incident is opened, leads the dispatch message the field receives, and is
listed in the review."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import Settings
from gateway.settings_sections import Hazard
from tests.api.conftest import make_settings
from tests.console.conftest import Desk, open_page, shot, sign_in


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = make_settings(tmp_path)
    s.hazards = [
        Hazard(id="HZ-1", kind="asbestos", places=["Mill Lane"], note="roof sheets"),
        Hazard(id="HZ-2", kind="dangerous dog", places=["4 Mill Lane"]),
    ]
    return s


async def test_hazards_are_shown_sent_and_reviewed(desk: Desk, browser: Any) -> None:
    inc = await desk.create(nature="shed fire", location="4 Mill Lane", category="fire", impact=1, urgency=1)
    ref = inc["reference"]
    page = await open_page(browser, desk)
    await sign_in(page, "dispatcher")
    card = page.locator(".hazards")

    # Typed into a new incident: shown before anything is saved, gone when the location changes.
    await page.locator("#main").focus()
    await page.keyboard.press("n")
    await page.get_by_label("Location").fill("12 Mill Lane")
    await card.filter(has_text="asbestos").filter(has_text="roof sheets").wait_for()
    assert "dangerous dog" not in (await card.text_content() or "")
    await page.get_by_label("Location").fill("1 High Street")
    await card.wait_for(state="detached")

    await page.locator("#queue button", has_text=ref).click()
    await page.locator("#confirm").get_by_role("button", name="Leave").click()
    await card.filter(has_text="Known hazards at this address (2)").wait_for()
    await shot(page, "25-hazards")

    # A second caller reports the same fire: the desk is told it may be a duplicate of the first.
    again = await desk.create(
        nature="smoke over Mill Lane", location="Mill Lane 4", category="Fire", impact=2, urgency=1
    )
    other = await desk.create(
        nature="bin fire", location="1 High Street", category="fire", impact=3, urgency=3
    )
    await page.locator("#queue button", has_text=again["reference"]).click()
    hint = page.locator(".dupes")
    await hint.get_by_role("button", name=ref, exact=True).wait_for()
    assert other["reference"] not in (await hint.text_content() or "")
    await shot(page, "26-duplicate-hint")
    _, dupes = await desk.call("GET", f"/api/v1/incidents/{again['reference']}/duplicates")
    assert [d["reference"] for d in dupes["duplicates"]] == [ref]

    status, _ = await desk.call("POST", f"/api/v1/incidents/{ref}/dispatch", json={"resources": ["ENG-1"]})
    assert status == 201
    for _ in range(100):
        if desk.desk.messages(ref):
            break
        await asyncio.sleep(0.05)
    [sent] = desk.desk.messages(ref)
    assert sent.text.startswith(f"{ref} P1 FIRE: HAZARD asbestos, dangerous dog. shed fire")

    _, found = await desk.call("GET", f"/api/v1/incidents/{ref}/hazards", role="viewer")
    assert [h["id"] for h in found["hazards"]] == ["HZ-1", "HZ-2"]
    status, body = await desk.call("GET", "/api/v1/hazards?location=" + "x" * 600)
    assert status == 422 and "location" in body["fields"]
    for step, role in (("resolve", "dispatcher"), ("close", "supervisor")):
        status, body = await desk.call("POST", f"/api/v1/incidents/{ref}/{step}", role=role, json={})
        assert status == 200, body
    _, review = await desk.call("GET", f"/api/v1/incidents/{ref}/review")
    assert [h["kind"] for h in review["hazards"]] == ["asbestos", "dangerous dog"]
    _, markdown = await desk.call("GET", f"/api/v1/incidents/{ref}/review?format=markdown")
    assert "## Hazards at the location\n\n- asbestos (HZ-1): roof sheets" in markdown
    assert page.errors == []
