"""The AMI CTI source against the AMI simulator over real TCP sockets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from adapters.ami.channel import AmiSource, build
from adapters.base import HealthState
from adapters.cti import CallAnswered, CallEnded, CallOffered
from simulators.ami_server import AmiServer
from tests.support.cti import Recorder

FAST = {"reconnect_initial": 0.05, "reconnect_max": 0.2, "connect_timeout": 2.0}


def source(ami: AmiServer, **options: Any) -> AmiSource:
    opts = {"port": ami.port, "username": "callout", "secret": "s3cret"} | FAST | options
    src = build("pbx", opts)
    assert isinstance(src, AmiSource)
    return src


async def test_answered_call_gives_caller_desk_and_linkedid() -> None:
    async with AmiServer() as ami, source(ami) as src, Recorder(src) as rec:
        assert src.health.state is HealthState.UP
        linkedid = await ami.answered("0412345678", "7007", name="Jo Bloggs")
        await rec.until(CallEnded, 1)
        await rec.settle()
    assert [type(e) for e in rec.events] == [CallOffered, CallAnswered, CallEnded]
    answered = rec.of(CallAnswered)[0]
    assert answered.call_id == linkedid
    assert (answered.caller, answered.caller_name, answered.called) == ("0412345678", "Jo Bloggs", "000")
    assert answered.desk == "7007" and answered.source == "pbx"
    assert answered.evidence["ami_event"] == "DialEnd"
    ended = rec.of(CallEnded)[0]
    assert ended.answered is True and ended.reason == "hangup" and ended.evidence["cause"] == "16"
    login = ami.actions_named("Login")[0][1]
    assert (login["Username"], login["Events"]) == ("callout", "call,agent")
    assert ami.actions_named("Filter") and ami.actions_named("CoreShowChannels")


async def test_a_call_abandoned_while_ringing_is_ended_unanswered() -> None:
    async with AmiServer() as ami, source(ami) as src, Recorder(src) as rec:
        linkedid = await ami.abandoned("0499000111", "7007")
        await rec.until(CallEnded, 1)
        await rec.settle()
    assert [type(e) for e in rec.events] == [CallOffered, CallEnded]
    ended = rec.of(CallEnded)[0]
    assert ended.call_id == linkedid and ended.answered is False and ended.reason == "abandoned"
    assert ended.caller == "0499000111" and ended.evidence["hung_up_by"] == "caller"


async def test_transfer_and_queue_pickup_answer_once_each() -> None:
    async with AmiServer() as ami, source(ami) as src, Recorder(src) as rec:
        transferred = await ami.transferred("0455000111", "7007", "7008")
        queued = await ami.queue_pickup("0466000111", "7010")
        await rec.until(CallEnded, 2)
        await rec.settle()
    t_answers = rec.of(CallAnswered, transferred)
    assert len(t_answers) == 1 and t_answers[0].desk == "7007"
    t_ended = rec.of(CallEnded, transferred)[0]
    assert t_ended.evidence["transferred_to"] == ("7008",)
    assert t_ended.evidence["transfer"] == "BlindTransfer to 7008"
    q_answers = rec.of(CallAnswered, queued)
    assert len(q_answers) == 1 and q_answers[0].desk == "Agent 7010"
    assert q_answers[0].evidence["ami_event"] == "AgentConnect"
    assert rec.of(CallOffered, queued)[0].evidence["queue"] == "dispatch"


async def test_dropped_connection_reconnects_resyncs_and_never_duplicates_an_answer() -> None:
    async with AmiServer() as ami, source(ami) as src, Recorder(src) as rec:
        a = await (await ami.call("0411000001")).ring("7007")
        await a.answer()
        b = await (await ami.call("0411000002")).ring("7008")
        await rec.until(CallAnswered, 1)
        await rec.until(CallOffered, 2)

        await ami.drop()  # while A talks and B rings
        await b.answer()  # lost: nobody is listening
        c = await (await ami.call("0411000003")).ring("7009")
        await c.answer()
        await a.hangup_caller()
        d = await (await ami.call("0411000004")).ring("7007")
        await d.hangup_caller()  # came and went during the gap: no trace anywhere

        await ami.wait_logged_in(2)
        await rec.until(CallAnswered, 3)
        await b.hangup_caller()
        await c.hangup_caller()
        await rec.until(CallEnded, 3)
        await rec.settle()
        assert src.health.state is HealthState.UP and src.logins == 2
    for call in (a, b, c):
        assert len(rec.of(CallAnswered, call.linkedid)) == 1, call.linkedid
        assert len(rec.of(CallEnded, call.linkedid)) == 1, call.linkedid
        assert len(rec.of(CallOffered, call.linkedid)) == 1, call.linkedid
    assert rec.of(CallOffered, d.linkedid) == []
    assert rec.of(CallEnded, a.linkedid)[0].evidence["resync"] is True  # ended during the gap
    b_answer = rec.of(CallAnswered, b.linkedid)[0]
    assert b_answer.evidence["resync"] is True and b_answer.desk == "7008" and b_answer.caller == "0411000002"
    c_answer = rec.of(CallAnswered, c.linkedid)[0]
    assert c_answer.caller == "0411000003" and c_answer.desk == "7009"
    # The second session logged in, then asked for the channel list.
    second = [a["Action"] for n, a in ami.actions if n == max(n for n, _ in ami.actions)]
    assert second[:1] == ["Login"] and "CoreShowChannels" in second


async def test_a_hung_asterisk_is_detected_by_the_keepalive() -> None:
    async with AmiServer() as ami, source(ami, ping_interval=0.1, ping_timeout=0.2) as src:
        await asyncio.sleep(0.35)
        assert ami.actions_named("Ping")  # the keepalive runs
        ami.mute = True
        started = time.monotonic()
        async with asyncio.timeout(3):
            while src.health.state is HealthState.UP:
                await asyncio.sleep(0.02)
        assert time.monotonic() - started < 1.5
        assert "Ping" in src.health.reason
        ami.mute = False
        await ami.wait_logged_in(2)
        async with asyncio.timeout(3):
            while src.health.state is not HealthState.UP:
                await asyncio.sleep(0.02)


async def test_a_refused_login_keeps_retrying_and_reports_why() -> None:
    async with AmiServer() as ami:
        src = source(ami, secret="wrong")
        started = time.monotonic()
        async with src:
            assert time.monotonic() - started < 2  # entering does not hang or raise
            async with asyncio.timeout(3):
                while len(ami.actions_named("Login")) < 3:
                    await asyncio.sleep(0.02)
            assert src.health.state is HealthState.DOWN
            assert "Authentication failed" in src.health.reason
        assert src.health.reason == "stopped"


async def test_nothing_listening_means_down_not_an_error() -> None:
    async with AmiServer() as ami:
        port = ami.port
    src = build("pbx", {"port": port, "username": "u", "secret": "s"} | FAST)
    async with src:
        assert src.health.state is HealthState.DOWN
        assert "reconnecting" in src.health.reason


@pytest.mark.parametrize("events", ["call", "off"])
async def test_the_login_event_mask_is_honoured(events: str) -> None:
    async with AmiServer() as ami, source(ami, events=events) as src, Recorder(src) as rec:
        await ami.queue_pickup("0466000111", "7010")  # agent-class events
        await ami.answered("0412345678", "7007")
        await rec.settle(0.3)
    kinds = [type(e) for e in rec.events]
    if events == "off":
        assert kinds == []
    else:  # QueueCallerJoin/AgentConnect never came; the direct call did
        assert kinds == [CallOffered, CallAnswered, CallEnded]
