"""The board's "On call" card and the KPI view's caller satisfaction, in the browser: with a
schedule configured, the board names who is on call now (an override shown as such) and until
when, and who is next from when, in the desk's local time; without one, no card. With surveys
sent through the engine and answered by SMS, the KPI view shows the mean score, the response
rate, responses / surveys and five bars, one per score; before any survey, it says none was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.settings import Settings
from tests.api.conftest import make_settings
from tests.console.conftest import Desk, open_page, running_desk, shot, sign_in
from tests.support.scripted import ScriptedChannel
from tests.support.waiting import until

CALLERS = ("+447700900131", "+447700900132", "+447700900133")


def _rota(tmp_path: Path) -> Settings:
    base = make_settings(tmp_path).model_dump()
    base["stakeholders"] = [
        {
            "id": who,
            "name": who.title(),
            "groups": ["managers"],
            "contact_plan": [{"channel": "desk", "address": f"{who}-phone"}],
        }
        for who in ("ann", "bob")
    ]
    now = datetime.now(UTC)
    base["schedules"] = [
        {
            "id": "duty", "name": "Duty manager", "members": ["ann", "bob"], "rotation": "daily",
            "time_zone": "Europe/London", "handover": "08:00",
            "start": (date.today() - timedelta(days=3)).isoformat(),
            # Bob covers now: Ann is next whichever of them the rotation has after the cover.
            "overrides": [{"member": "bob", "start": (now - timedelta(hours=1)).isoformat(),
                           "end": (now + timedelta(hours=2)).isoformat()}],
        }
    ]  # fmt: skip
    base["channels"].append({"name": "sms", "kind": "sms_http", "options": {"url": "http://127.0.0.1:9/sms"}})
    base["survey"] = {"channel": "sms", "delay": 0, "window": 3600}
    return Settings(**base)


@pytest.fixture
def sms() -> ScriptedChannel:
    return ScriptedChannel("sms")


@pytest.fixture
async def rota_desk(
    tmp_path: Path, sms: ScriptedChannel, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Desk]:
    async with running_desk(_rota(tmp_path), monkeypatch, more={"sms": sms}) as d:
        yield d


async def _local(page: Any, iso: str) -> str:
    """An API time as the console writes it ("today 14:03" or "2026-12-03 08:00"), in the
    browser's own time zone (asked of the browser)."""
    zone = ZoneInfo(await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone"))
    t = datetime.fromisoformat(iso).astimezone(zone)
    day = "today" if t.date() == datetime.now(zone).date() else t.date().isoformat()
    return f"{day} {t:%H:%M}"


async def test_the_board_shows_who_is_on_call_now_and_next(rota_desk: Desk, browser: Any) -> None:
    status, body = await rota_desk.call("GET", "/api/v1/schedules")
    assert status == 200, body
    (duty,) = body
    assert (duty["now"]["member"], duty["now"]["cover"], duty["next"]["member"]) == ("bob", "override", "ann")

    page = await open_page(browser, rota_desk)
    await sign_in(page, "dispatcher")
    await page.keyboard.press("2")
    card = page.locator("section[aria-labelledby='oncall-title']")
    row = card.locator("li[data-schedule='duty']")
    await row.filter(has_text="Duty manager").wait_for()
    now = row.locator("[data-when='now']")
    await (
        now.filter(has_text="Bob")
        .filter(has_text=f"until {await _local(page, duty['now']['until'])}")
        .wait_for()
    )
    await now.locator("[data-cover='override']").filter(has_text="override").wait_for()
    following = row.locator("[data-when='next']")
    await (
        following.filter(has_text="Ann")
        .filter(has_text=f"from {await _local(page, duty['next']['from'])}")
        .wait_for()
    )
    assert await following.locator("[data-cover]").count() == 0  # Ann's is her rotation shift
    await shot(page, "40-board-on-call")
    assert page.errors == []


async def test_no_schedule_no_on_call_card(desk: Desk, browser: Any) -> None:
    page = await open_page(browser, desk)
    await sign_in(page, "dispatcher")
    await page.keyboard.press("2")
    await page.locator("#units-title").wait_for()
    await page.locator("#channels-title").wait_for()
    assert await page.locator("#oncall-title").count() == 0
    assert page.errors == []


async def test_the_kpi_view_shows_the_callers_satisfaction(
    rota_desk: Desk, sms: ScriptedChannel, browser: Any
) -> None:
    page = await open_page(browser, rota_desk)
    await sign_in(page, "dispatcher")
    await page.keyboard.press("3")
    block = page.locator("#kpi-satisfaction")
    await block.locator("[data-empty='satisfaction']").filter(has_text="No survey was sent").wait_for()

    # Three callers agree to the survey; it goes out on resolution; two reply, 4 and 5.
    for caller in CALLERS:
        inc = await rota_desk.create(
            nature="bin fire",
            location="2 Mill Lane",
            category="fire",
            impact=3,
            urgency=3,
            caller_number=caller,
        )
        ref = inc["reference"]
        status, body = await rota_desk.call("POST", f"/api/v1/incidents/{ref}/survey", json={"consent": True})
        assert status == 200, body
        status, body = await rota_desk.call("POST", f"/api/v1/incidents/{ref}/resolve", json={})
        assert status == 200, body
    await until(lambda: {m.address for m in sms.sent} == set(CALLERS), "the three surveys sent")
    sms.reply(CALLERS[0], "4")
    sms.reply(CALLERS[1], "5")

    async def answered() -> bool:
        _, kpis = await rota_desk.call("GET", "/api/v1/kpis")
        return bool(kpis["satisfaction"]["responses"] == 2)

    await until(answered, "both replies scored")
    _, kpis = await rota_desk.call("GET", "/api/v1/kpis")
    assert kpis["satisfaction"]["surveys_sent"] == 3 and kpis["satisfaction"]["mean_score"] == 4.5

    await page.keyboard.press("1")
    await page.keyboard.press("3")
    await block.locator("[data-figure='mean']").filter(has_text="4.5 / 5").wait_for()
    await block.locator("[data-figure='rate']").filter(has_text="67%").wait_for()
    await block.locator("[data-figure='responses']").filter(has_text="2 / 3").wait_for()
    chart = block.locator("svg[data-chart='satisfaction']")
    assert await chart.locator("g[data-score]").count() == 5
    for score, text in (
        ("1", "0 responses"),
        ("3", "0 responses"),
        ("4", "1 response (50%)"),
        ("5", "1 response (50%)"),
    ):
        await chart.locator(f"g[data-score='{score}']").filter(has_text=text).wait_for()
    widths = [
        float(await chart.locator(f"g[data-score='{k}'] rect.bar").get_attribute("width") or "0")
        for k in "12345"
    ]
    assert widths[:3] == [0, 0, 0] and widths[3] == widths[4] > 0
    await shot(page, "41-kpis-satisfaction")
    assert page.errors == []
