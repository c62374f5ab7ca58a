"""The TAP pager inside a real gateway (SQLite store, delivery engine): a pager is one-way, so a
dispatch that needs an ack pages and moves straight on; a silent terminal makes the ladder fall
back. The pager talks to the terminal simulator over a real pty; the second endpoint is a
scripted two-way channel."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from adapters.base import HealthState
from adapters.pager_tap.channel import build
from gateway.app import Gateway
from gateway.clock import ManualClock
from gateway.domain.states import DeliveryState
from simulators.tap_terminal import TapTerminal
from tests.support.engine import FIRE, Rig, make_settings
from tests.support.scripted import ScriptedChannel
from tests.support.waiting import until

PLAN = [{"channel": "pager", "address": "1001"}, {"channel": "sms", "address": "+447700900001"}]
FAST = {"wake_interval": 0.15, "response_timeout": 2.0, "linger": 0.1, "recheck_interval": 30.0}


async def start(stack: AsyncExitStack, tmp_path: Path, term: TapTerminal) -> Rig:
    pager = build("pager", {"device": term.device, "baudrate": 9600, **FAST}, 80)
    sms = ScriptedChannel("sms")
    clock = ManualClock()
    settings = make_settings(
        tmp_path / "callout.db",
        resources=[{"id": "ENG-1", "capabilities": ["fire"], "contact_plan": PLAN}],
    )
    gw = await stack.enter_async_context(
        Gateway(
            settings, clock=clock, channels={"pager": pager, "sms": sms, "radio": ScriptedChannel("radio")}
        )
    )
    await stack.enter_async_context(gw.running())
    await until(lambda: pager.health.state is not HealthState.DEGRADED, "the pager's start-up call")
    return Rig(gw, clock, {"sms": sms})


async def dispatch(rig: Rig) -> str:
    inc = await rig.gw.incidents.create(FIRE, source="desk", actor="test")
    await rig.gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="test")
    return inc.reference


async def test_a_page_needing_an_ack_moves_straight_on_to_the_next_channel(tmp_path):
    async with AsyncExitStack() as stack:
        term = await stack.enter_async_context(TapTerminal(pty_link=tmp_path / "ttyTAP", baud=9600))
        rig = await start(stack, tmp_path, term)
        assert rig.gw.channels["pager"].health.state is HealthState.UP
        ref = await dispatch(rig)
        await until(lambda: len(rig.ch["sms"].sent) == 1, "the SMS, without any clock advance")
        await rig.settle()
        assert [p.pager_id for p in term.pages] == ["1001"]
        assert term.pages[0].text.startswith(ref) and len(term.pages[0].text) <= 80  # fitted to 80
        pager, sms = await rig.attempts(ref)
        assert (pager.channel, pager.state, pager.closed_reason) == ("pager", DeliveryState.SENT, "one_way")
        assert (
            pager.evidence["tap_code"] == "211" and pager.evidence["tap_text"] == "Page(s) Sent Successfully"
        )
        assert (sms.channel, sms.state, sms.closed_reason) == (
            "sms",
            DeliveryState.SENT,
            None,
        )  # awaits the ack


async def test_a_silent_terminal_makes_the_ladder_fall_back(tmp_path):
    async with AsyncExitStack() as stack:
        term = await stack.enter_async_context(TapTerminal(pty_link=tmp_path / "ttyTAP", baud=9600))
        rig = await start(stack, tmp_path, term)
        pager_ch = rig.gw.channels["pager"]
        assert pager_ch.health.state is HealthState.UP
        await until(lambda: bool(term.sessions) and bool(term.sessions[-1].ended), "start-up call over")
        term.faults.silent = True
        ref = await dispatch(rig)
        await until(lambda: pager_ch.health.state is HealthState.DOWN, "pager down: terminal silent")
        assert pager_ch.health.reason == "terminal silent: no ID= after 3 CRs"
        await rig.settle()
        (attempt,) = await rig.attempts(ref)
        assert attempt.state is DeliveryState.FAILED_TEMPORARY and attempt.evidence["code"] == "silent"
        await rig.advance(10)  # the retry is due: the engine finds the pager down and moves on
        await until(lambda: len(rig.ch["sms"].sent) == 1, "fallback to SMS")
        pager, sms = await rig.attempts(ref)
        assert (pager.state, pager.closed_reason) == (DeliveryState.FAILED_PERMANENT, "channel_down")
        assert sms.channel == "sms" and term.pages == []
