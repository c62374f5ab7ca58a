"""GET /kpis reports average handling time (answered to ended) overall and per desk, from calls
that came in through the signed CTI webhook."""

from __future__ import annotations

import time

from tests.api.conftest import Api
from tests.api.test_cti import call, cti_api, post_event

__all__ = ["cti_api"]  # the fixture, used by name


async def test_average_handling_time_per_desk_and_overall(cti_api: Api) -> None:
    now = time.time()
    for call_id, desk, took in (("c1", "desk-1", 90), ("c2", "desk-1", 30), ("c3", "desk-2", 120)):
        r = await post_event(
            cti_api,
            {
                **call("answered", call_id, 1, at=now - took),
                "caller": f"+4477009001{call_id[1]}",
                "desk": desk,
            },
        )
        assert r.status == 202, r.body
        r = await post_event(cti_api, {**call("ended", call_id, 2, at=now), "desk": desk})
        assert r.status == 202, r.body
    # Still on the phone: not counted until it ends.
    await post_event(cti_api, {**call("answered", "c4", 1, at=now - 5), "caller": "+447700900199"})
    kpis = (await cti_api.call("GET", "/api/v1/kpis?hours=1")).body
    # One hour: a trend of one point, the calls all in it.
    assert [(p["calls"], p["average_seconds"]) for p in kpis["handling"].pop("trend")] == [(3, 80.0)]
    assert kpis["handling"] == {
        "overall": {"calls": 3, "average_seconds": 80.0},
        "desks": {
            "desk-1": {"calls": 2, "average_seconds": 60.0},
            "desk-2": {"calls": 1, "average_seconds": 120.0},
        },
    }
