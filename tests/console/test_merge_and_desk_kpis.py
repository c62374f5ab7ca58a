"""The desk under pressure, in the browser: the merge next to the duplicate hint acts on exactly the
two incidents its button names (after a confirmation naming them too), the survivor then shows the
merged call and caller, and the KPI view draws the desk's handling time and first-contact
resolution as charts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from adapters.cti import CallAnswered, CallEnded
from tests.console.conftest import Desk, open_page, shot, sign_in

FIRE = {"category": "fire", "impact": 1, "urgency": 1}


async def _call(desk: Desk, call_id: str, caller: str, where: str, took: float, ago: float, at: str) -> str:
    now = time.time()
    answered = CallAnswered(call_id=call_id, at=now - ago, caller=caller, desk=at)
    got = await desk.gw.cti.handle(answered)
    await desk.gw.cti.handle(CallEnded(call_id=call_id, at=now - ago + took, desk=answered.desk))
    ref: str = got["incident"]
    status, body = await desk.call(
        "PATCH", f"/api/v1/incidents/{ref}", json={"nature": "smoke seen", "location": where, **FIRE}
    )
    assert status == 200, body
    return ref


async def test_merge_acts_on_the_incidents_it_names_and_kpis_are_drawn(desk: Desk, browser: Any) -> None:
    first = await _call(desk, "c1", "+447700900301", "4 Mill Lane", 90, ago=600, at="desk-1")
    second = await _call(desk, "c2", "+447700900302", "Mill Lane 4", 150, ago=300, at="desk-2")
    third = await _call(desk, "c3", "+447700900303", "4 Mill Lane", 30, ago=120, at="desk-1")
    status, body = await desk.call(
        "POST", f"/api/v1/incidents/{second}/dispatch", json={"resources": ["ENG-1"]}
    )
    assert status == 201, body

    page = await open_page(browser, desk)
    await sign_in(page, "dispatcher")
    await page.locator("#queue button", has_text=second).click()
    hint = page.locator(".dupes")
    # On the second: the first was earlier (the second goes into it), the third later (into the second).
    into_first = hint.get_by_role("button", name=f"Merge {second} into {first}", exact=True)
    await into_first.wait_for()
    await hint.get_by_role("button", name=f"Merge {third} into {second}", exact=True).wait_for()
    await shot(page, "30-merge-offered")
    await into_first.click()
    dialog = page.locator("#confirm")
    await dialog.locator("#confirm-title").filter(has_text=f"Merge {second} into {first}?").wait_for()
    await dialog.get_by_label("Note (optional)").fill("same shed fire")
    await dialog.get_by_role("button", name=f"Merge {second} into {first}").click()

    # The console shows the survivor with the merged call, and says what the field was told.
    held = page.locator(".merged")
    await held.filter(has_text=f"Merged into {first} (1)").wait_for()
    await page.locator("#incident-title").filter(has_text=first).wait_for()
    item = held.locator(f"li[data-merged='{second}']")
    await item.filter(has_text="+447700900302").filter(has_text="call c2").wait_for()
    await (
        page.locator(".flash")
        .filter(has_text=f"{second} merged into {first}: moved ENG-1 to {first}")
        .wait_for()
    )
    await shot(page, "31-merged-survivor")

    # The server did exactly that: the second closed into the first, the third untouched.
    _, dup = await desk.call("GET", f"/api/v1/incidents/{second}")
    assert (dup["state"], dup["merged_into"]) == ("closed", first)
    [merged] = [e for e in dup["timeline"] if e["kind"] == "incident.merged"]
    assert merged["data"]["note"] == "same shed fire" and merged["data"]["moved"] == ["ENG-1"]
    _, survivor = await desk.call("GET", f"/api/v1/incidents/{first}")
    assert survivor["merged_into"] is None and [m["reference"] for m in survivor["merged"]] == [second]
    _, other = await desk.call("GET", f"/api/v1/incidents/{third}")
    assert (other["state"], other["merged_into"], other["merged"]) == ("triaged", None, [])

    # The merged one says where it went.
    await item.get_by_role("button", name=second, exact=True).click()
    await page.locator(".merged-into").filter(has_text=f"merged into {first}").wait_for()

    # The KPI view: handling time and first-contact resolution drawn per desk, with trends.
    for _ in range(100):  # the third call's incident is still open; the first has its unit now
        _, kpis = await desk.call("GET", "/api/v1/kpis")
        if kpis["handling"]["overall"]["calls"] == 3:
            break
        await asyncio.sleep(0.05)
    assert kpis["handling"]["overall"] == {"calls": 3, "average_seconds": 90.0}
    await page.keyboard.press("3")
    handling = page.locator("#kpi-handling")
    bars = handling.locator("svg[data-chart='handling']")
    await bars.locator("g[data-row='All desks']").filter(has_text="1m 30s average · 3 calls").wait_for()
    await bars.locator("g[data-row='desk-1']").filter(has_text="2 calls").wait_for()
    await bars.locator("g[data-row='desk-2']").filter(has_text="2m 30s average · 1 call").wait_for()
    assert await bars.locator("rect.bar").count() == 3
    assert (
        await handling.locator(
            "svg[data-chart='handling-trend'] polyline, svg[data-chart='handling-trend'] circle"
        ).count()
        >= 1
    )
    fcr = page.locator("#kpi-fcr")
    # The first took a unit (carried over from its duplicate): dispatched; the third is open.
    await (
        fcr.locator("svg[data-chart='fcr'] g[data-row='All desks']")
        .filter(has_text="0% · 0/1")
        .filter(has_text="1 open")
        .wait_for()
    )
    await fcr.locator("svg[data-chart='fcr-trend']").wait_for()
    await shot(page, "32-kpis-desk")

    # The review lists the merge, both ways.
    for step, role in (("resolve", "dispatcher"), ("close", "supervisor")):
        status, body = await desk.call("POST", f"/api/v1/incidents/{first}/{step}", role=role, json={})
        assert status == 200, body
    await page.keyboard.press("4")
    await page.locator(f"#review-pick option[value='{first}']").wait_for(state="attached")
    await page.locator("#review-pick").select_option(first)
    review = page.locator("article.review")
    await (
        review.locator(".merged")
        .filter(has_text="Merged duplicates (1)")
        .filter(has_text=f"{second} · call c2")
        .wait_for()
    )
    await page.locator("#review-pick").select_option(second)
    await review.locator(".facts").filter(has_text=f"{first} (closed as a duplicate)").wait_for()
    assert page.errors == []
