"""The demo's dispatcher: takes each sample call, types in what the caller says, dispatches the
recommendation, and resolves and closes incidents as a dispatcher would."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from gateway.app import Gateway
from gateway.demo.devices import DESK, call_desk
from gateway.demo.rig import Rig
from gateway.demo.samples import FORM, SAMPLES, caller_number
from gateway.domain.states import IncidentState
from gateway.errors import CalloutError

log = logging.getLogger(__name__)


async def run_desk(gw: Gateway, rig: Rig, incidents: int, interval: float) -> int:
    """The demo's dispatcher: takes each call, types in what the caller says, dispatches the
    recommendation; resolves incidents once a unit is on scene and closes them. 0 when a bounded
    run saw every incident closed, 1 when it gave up waiting."""
    made: list[str] = []
    calls: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    async with asyncio.TaskGroup() as tg:
        for n, sample in zip(itertools.count(1), itertools.cycle(SAMPLES), strict=False):
            if incidents and n > incidents:
                break
            calls.append(tg.create_task(_take_call(gw, rig, n, sample, made), name=f"demo.call{n}"))
            await _close_finished(gw, made)
            await asyncio.sleep(interval)
        deadline = loop.time() + 60  # a bounded run never hangs: it says what did not finish
        while (made or not all(c.done() for c in calls)) and loop.time() < deadline:
            await _close_finished(gw, made)
            await asyncio.sleep(0.5)
    if made:
        print(f"callout demo: gave up waiting for {', '.join(made)}", flush=True)
        return 1
    return 0


async def _take_call(gw: Gateway, rig: Rig, n: int, sample: dict[str, Any], made: list[str]) -> None:
    """Sample caller n rings the desk (or, without SIP, the desk logs the incident itself); the
    desk types in what the caller says and dispatches the recommendation."""
    number = caller_number(n)
    call = None
    try:
        ref = None
        if rig.calls:
            since = gw.clock.now()
            port = getattr(gw.cti_sources.get("desk"), "local_port", None)
            uri = f"sip:{DESK}@127.0.0.1:{port}"
            call = asyncio.create_task(call_desk(uri, number, sample["caller_name"]), name=f"demo.sipp{n}")
            ref = await _incident_from(gw, number, since)
            if ref is None:
                print(f"callout demo: call {n} was not answered; the desk logs it directly", flush=True)
        if ref is None:
            fields = {"caller_number": number, "caller_name": sample["caller_name"]}
            ref = (await gw.incidents.create(fields, source="demo", actor="demo-desk")).reference
        inc = await gw.incidents.update(ref, {k: sample[k] for k in FORM}, actor="demo-desk")
        if inc.recommendation:
            await gw.dispatch.dispatch(ref, None, actor="demo-desk")
        made.append(ref)
        if call is not None:
            await call  # the caller hangs up after talking
    except CalloutError as exc:  # one call going wrong must not end the demo
        log.warning("demo desk: call %d: %s", n, exc)
    finally:
        if call is not None and not call.done():
            call.cancel()
            await asyncio.wait([call])


async def _incident_from(gw: Gateway, number: str, since: float, within: float = 10.0) -> str | None:
    """The incident the call from `number` created once the desk picked it up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        async with gw.store.read() as tx:
            found = await tx.incidents_by_caller(number, limit=1)
        if found and found[0].created_at >= since:
            return found[0].reference
        await asyncio.sleep(0.1)
    return None


async def _close_finished(gw: Gateway, made: list[str]) -> None:
    """Resolve incidents whose units are on scene, close resolved ones, as a dispatcher would."""
    for ref in list(made):
        async with gw.store.read() as tx:
            inc = await tx.get_incident(ref)
        try:
            if inc.state is IncidentState.ON_SCENE:
                await gw.stand_down.resolve(ref, actor="demo-desk", note="crew reports all clear")
            elif inc.state in (IncidentState.RESOLVED, IncidentState.CANCELLED):
                await gw.stand_down.close(ref, actor="demo-supervisor", lessons="demo run")
                made.remove(ref)
            elif inc.state is IncidentState.TRIAGED and not inc.recommendation:
                await gw.stand_down.resolve(ref, actor="demo-desk", note="handled at the desk")
        except CalloutError as exc:  # it moved on meanwhile: look again next time
            log.warning("demo desk: %s: %s", ref, exc)
