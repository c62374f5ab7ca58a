"""The survey consent at the desk: with `[survey]` configured, an incident with a caller number
shows the consent box; ticking it records the caller's consent (audited, by the token's name),
unticking withdraws it; a viewer sees the box but cannot change it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.settings import ChannelConfig, Settings
from gateway.settings_updates import SurveySettings
from tests.api.conftest import CALLER, make_settings
from tests.console.conftest import Desk, open_page, shot, sign_in


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = make_settings(tmp_path)
    s.channels.append(ChannelConfig(name="sms", kind="sms_http", options={"url": "http://127.0.0.1:9/sms"}))
    s.survey = SurveySettings(channel="sms")
    return s


async def test_the_desk_records_and_withdraws_the_callers_consent(desk: Desk, browser: Any) -> None:
    inc = await desk.create(
        nature="bin fire", location="2 Mill Lane", category="fire", impact=3, urgency=3, caller_number=CALLER
    )
    ref = inc["reference"]
    page = await open_page(browser, desk)
    await sign_in(page, "dispatcher")
    await page.locator("#queue button", has_text=ref).click()
    box = page.get_by_label("The caller agrees to one SMS after the incident (reply 1-5)")
    await box.wait_for()
    assert not await box.is_checked()

    await box.check()
    await page.locator("#survey-state", has_text="goes out when the incident is resolved").wait_for()
    status, survey = await desk.call("GET", f"/api/v1/incidents/{ref}/survey")
    assert status == 200 and survey["state"] == "consented" and survey["consented_by"] == "api:dispatcher-1"
    await shot(page, "27-survey-consent")

    await box.uncheck()
    await page.locator("#survey-state", has_text="Consent withdrawn").wait_for()
    status, survey = await desk.call("GET", f"/api/v1/incidents/{ref}/survey")
    assert survey["state"] == "withdrawn" and survey["consent"] is False
    assert page.errors == []

    viewer = await open_page(browser, desk)
    await sign_in(viewer, "viewer")
    await viewer.locator("#queue button", has_text=ref).click()
    await viewer.locator("#survey-consent[disabled]").wait_for()

