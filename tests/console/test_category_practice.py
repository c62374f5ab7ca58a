"""Per-category practice at the desk: choosing a category shows its safety advice and scripted
questions at once; the answers are stored on the incident, and an answer rule raises the
priority with its reason in the rationale. The API refuses an answer that is not a choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.settings import Settings
from gateway.settings_sections import CategoryPractice
from tests.api.conftest import make_settings
from tests.console.conftest import Desk, open_page, shot, sign_in

ADVICE = "Leave the building and close the doors behind you."
FIRE = {
    "category": "fire",
    "required": ["trapped"],
    "questions": [
        {"id": "trapped", "text": "Is anyone trapped inside?", "choices": ["yes", "no", "unknown"]},
        {"id": "floor", "text": "Which floor is the fire on?"},
    ],
    "advice": [ADVICE, "Do not use the lifts."],
    "rules": [
        {"question": "trapped", "answers": ["yes"], "impact": 1, "urgency": 1, "reason": "people trapped"}
    ],
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = make_settings(tmp_path)
    s.triage.categories = [CategoryPractice.model_validate(FIRE)]
    return s


async def test_questions_and_advice_appear_for_a_category_and_answers_raise_it(
    desk: Desk, browser: Any
) -> None:
    inc = await desk.create(
        nature="smoke in a flat", location="4 Mill Lane", category="fire", impact=3, urgency=3
    )
    ref = inc["reference"]
    assert inc["priority"] == "P4"
    page = await open_page(browser, desk)
    await sign_in(page, "dispatcher")

    # A new incident: the advice appears as soon as the category is typed, before any save.
    await page.locator("#main").focus()
    await page.keyboard.press("n")
    assert await page.locator(".practice").count() == 0
    await page.get_by_label("Category", exact=True).fill("Fire")
    advice = page.locator(".practice .advice")
    await advice.filter(has_text=ADVICE).wait_for()
    await page.locator(".practice").filter(has_text="Is anyone trapped inside? *").wait_for()
    await shot(page, "23-practice-new-incident")

    # The stored incident: answer the script; the rule raises it to P1 and says why.
    await page.locator("#queue button", has_text=ref).click()
    await page.locator("#confirm").get_by_role("button", name="Leave").click()  # the unsaved form
    await page.locator("#incident-title").filter(has_text=ref).wait_for()
    await advice.filter(has_text="Do not use the lifts.").wait_for()
    await page.get_by_label("Is anyone trapped inside?").select_option("yes")
    await page.get_by_label("Which floor is the fire on?").fill("third")
    await page.get_by_role("button", name=f"Save answers for {ref}").click()
    await page.locator(".part-header .prio-P1").wait_for()
    await page.locator(".part-status").filter(has_text="people trapped").wait_for()
    await page.locator(".rationale").first.filter(has_text="raised by answers: people trapped").wait_for()
    assert await page.get_by_label("Which floor is the fire on?").input_value() == "third"
    await shot(page, "24-practice-answered")

    _, stored = await desk.call("GET", f"/api/v1/incidents/{ref}/answers")
    assert {q: v["answer"] for q, v in stored["answers"].items()} == {"trapped": "yes", "floor": "third"}
    assert stored["missing"] == []
    _, full = await desk.call("GET", f"/api/v1/incidents/{ref}")
    assert (full["impact"], full["urgency"], full["priority"]) == (1, 1, "P1")
    kinds = [e["kind"] for e in full["timeline"]]
    assert "incident.answered" in kinds and "incident.raised_by_answers" in kinds

    # Bad answers are refused with the field and reason; nothing is stored.
    status, body = await desk.call(
        "POST", f"/api/v1/incidents/{ref}/answers", json={"answers": {"trapped": "maybe"}}
    )
    assert status == 422 and "one of yes, no, unknown" in body["fields"]["trapped"]
    status, body = await desk.call(
        "POST", f"/api/v1/incidents/{ref}/answers", json={"answers": {"colour": "red"}}
    )
    assert status == 422 and "colour" in body["fields"]
    status, _ = await desk.call(
        "POST", f"/api/v1/incidents/{ref}/answers", role="viewer", json={"answers": {}}
    )
    assert status == 403
    _, again = await desk.call("GET", f"/api/v1/incidents/{ref}/answers")
    assert again["answers"]["trapped"]["answer"] == "yes"
    assert page.errors == []
