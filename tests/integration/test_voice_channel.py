"""The voice channel against the SIP phone simulator: real pjsua2 worker processes, real SIP and
RTP on loopback, real espeak-ng speech; the phone records what it hears."""

from __future__ import annotations

import asyncio
import os
import signal
import wave

import pytest

from adapters.base import AttemptEvidence, InboundText, OutboundMessage, RadioAck
from adapters.errors import ChannelError
from adapters.voice.channel import VoiceChannel, build
from simulators.sip_phone import Behaviour, SipPhone
from tests.support.speech import voiced_seconds

FAST = {
    "bind_address": "127.0.0.1",
    "ring_timeout": 2.0,
    "digit_timeout": 1.5,
    "repeat": 1,
    "workers": 1,
    "restart_delay": 0.2,
}


def channel(phone: SipPhone, tmp_path, **extra) -> VoiceChannel:
    options = (
        FAST
        | {"uri_template": f"sip:{{address}}@127.0.0.1:{phone.port}", "cache_dir": str(tmp_path / "speech")}
        | extra
    )
    ch = build("voice", options)
    assert isinstance(ch, VoiceChannel)
    return ch


def message(address: str, n: int = 7) -> OutboundMessage:
    return OutboundMessage(
        message_id=str(n),
        address=address,
        parts=("Fire at 12 High Street.",),
        incident_ref="INC-2026-000042",
        priority="P2",
        needs_ack=True,
    )


async def next_event(ch: VoiceChannel, timeout: float = 15.0):
    async with asyncio.timeout(timeout):
        return await anext(aiter(ch.events()))


async def test_the_phone_hears_speech_and_its_key_1_acknowledges_the_message(tmp_path):
    phones = {"101": Behaviour(answer_after=0.3, press="1", press_after=2.5)}
    async with (
        SipPhone(phones=phones, record_dir=tmp_path / "rec") as phone,
        channel(phone, tmp_path) as ch,
    ):
        await asyncio.wait_for(ch.wait_ready(), 20)
        receipt = await ch.send(message("101"))
        assert receipt.evidence["sip_status"] == 200 and receipt.evidence["sip_call_id"]
        event = await next_event(ch)
        assert isinstance(event, RadioAck) and event.message_id == "7" and event.address == "101"
        assert event.evidence["dtmf"] == "1" and event.evidence["sip_call_id"] == receipt.channel_ref
        call = phone.calls[0]
        async with asyncio.timeout(15):
            await call.done.wait()
        record = await next_event(ch)  # once the call is over: its record for the attempt
    assert call.ended_by == "caller" and call.digits_sent == "1"
    assert isinstance(record, AttemptEvidence) and record.channel_ref == receipt.channel_ref
    ev = record.evidence
    assert (ev["sip_call_id"], ev["sip_status"], ev["digits"]) == (call.call_id, 200, "1")
    assert ev["answered_at"] == receipt.evidence["answered_at"] and ev["hung_up_by"] == "callout"
    assert 2.5 <= ev["talk_seconds"] <= call.ended_at - call.answered_at + 1.0, ev
    seconds, voiced = voiced_seconds(call.recording)
    assert seconds >= 2.5, seconds
    assert voiced >= 0.5 * 2.5, (seconds, voiced)  # speech, not silence, for most of what it heard


async def test_the_whole_message_is_spoken_before_a_silent_phone_is_hung_up(tmp_path):
    async with (
        SipPhone(default=Behaviour(answer_after=0.2, fault="silent"), record_dir=tmp_path / "rec") as phone,
        channel(phone, tmp_path, speed=320, intro="", prompt="Press 1.") as ch,
    ):
        await asyncio.wait_for(ch.wait_ready(), 20)
        receipt = await ch.send(message("102"))
        assert receipt.evidence["sip_status"] == 200  # sent, not acknowledged
        call = phone.calls[0]
        async with asyncio.timeout(30):
            await call.done.wait()
        record = await next_event(ch)  # no key pressed: no ack, but the call's record
    assert call.ended_by == "caller" and call.digits_sent == ""
    assert isinstance(record, AttemptEvidence) and record.channel_ref == receipt.channel_ref
    assert record.evidence["digits"] == "" and record.evidence["hung_up_by"] == "callout"
    assert record.evidence["message_complete"] is True
    longest = max((tmp_path / "speech").glob("*.wav"), key=lambda p: p.stat().st_size)
    with wave.open(str(longest)) as w:
        spoken = w.getnframes() / w.getframerate()
    seconds, voiced = voiced_seconds(call.recording)
    # The whole script, then digit_timeout (1.5 s) of silence before the hang-up.
    assert spoken + 1.0 <= seconds <= spoken + 1.5 + 2.0, (spoken, seconds)
    assert call.ended_at - call.answered_at >= spoken + 1.5
    # talk_seconds is rounded to the millisecond
    assert record.evidence["talk_seconds"] >= round(spoken + 1.5, 3) - 0.001, (spoken, record.evidence)
    assert voiced > 0.6 * spoken, (spoken, voiced)


async def test_a_channel_closed_mid_call_hangs_up_and_its_worker_exits_cleanly(tmp_path):
    async with SipPhone(default=Behaviour(answer_after=0.2, fault="silent")) as phone:
        async with channel(phone, tmp_path) as ch:
            await asyncio.wait_for(ch.wait_ready(), 20)
            await ch.send(message("108"))
        call = phone.calls[0]
        async with asyncio.timeout(10):
            await call.done.wait()
    assert call.ended_by == "caller"
    assert ch.workers[0].exit_codes == [0]  # no wrapper outlived libDestroy (it aborts the worker)


async def test_keys_2_and_3_go_to_the_reply_grammar_over_sip_info_too(tmp_path):
    phones = {"103": Behaviour(answer_after=0.2, press="3", press_after=0.5, dtmf="info")}
    async with SipPhone(phones=phones) as phone, channel(phone, tmp_path) as ch:
        await asyncio.wait_for(ch.wait_ready(), 20)
        await ch.send(message("103"))
        event = await next_event(ch)
    assert isinstance(event, InboundText) and event.text == "3" and event.evidence["dtmf_method"] == "info"


async def test_a_hang_up_mid_message_is_sent_with_its_talk_time_and_no_digit(tmp_path):
    phones = {"106": Behaviour(answer_after=0.2, fault="hangup", hangup_after=1.0)}
    async with SipPhone(phones=phones) as phone, channel(phone, tmp_path, repeat=3) as ch:
        await asyncio.wait_for(ch.wait_ready(), 20)
        receipt = await ch.send(message("106"))
        record = await next_event(ch)
    assert receipt.evidence["sip_status"] == 200  # answered: sent, and nothing acknowledges it
    assert isinstance(record, AttemptEvidence) and record.channel_ref == receipt.channel_ref
    ev = record.evidence
    assert (ev["digits"], ev["hung_up_by"], ev["message_complete"]) == ("", "callee", False), ev
    assert 1.0 <= ev["talk_seconds"] < 5.0, ev  # the phone's BYE a second in, mid-message
    assert ev["ended_at"] > ev["answered_at"]


# RFC 3261 §21 and the issue: busy and no answer are worth calling again; refusals are not.
UNANSWERED = {
    "401": (Behaviour(fault="busy"), True, "busy (486"),
    "402": (Behaviour(fault="busy", status=600), True, "busy (600"),
    "403": (Behaviour(fault="no_answer"), True, "no answer within 2s"),
    "404": (Behaviour(fault="reject", status=404), False, "404"),
    "405": (Behaviour(fault="reject", status=484), False, "484"),
    "406": (Behaviour(fault="reject", status=403), False, "403"),
    "407": (Behaviour(fault="reject"), False, "603"),
}


async def test_unanswered_calls_are_classified_by_their_final_status(tmp_path):
    phones = {user: b for user, (b, _, _) in UNANSWERED.items()}
    async with SipPhone(phones=phones) as phone, channel(phone, tmp_path, workers=2) as ch:
        await asyncio.wait_for(ch.wait_ready(), 20)
        results = await asyncio.gather(
            *(ch.send(message(user, n)) for n, user in enumerate(UNANSWERED)), return_exceptions=True
        )
    for user, result in zip(UNANSWERED, results, strict=True):
        _, temporary, words = UNANSWERED[user]
        assert isinstance(result, ChannelError), (user, result)
        assert result.temporary is temporary and words in str(result), (user, str(result))
        assert result.evidence["sip_call_id"], (user, result.evidence)
        assert result.evidence["sip_status"] == (487 if user == "403" else int(words[-3:])), user
    assert {c.user: c.status for c in phone.calls if c.status} == {
        "401": 486,
        "402": 600,
        "403": 487,  # our CANCEL at ring_timeout (RFC 3261 §9.2)
        "404": 404,
        "405": 484,
        "406": 403,
        "407": 603,
    }


async def test_a_killed_worker_fails_its_ringing_call_temporarily_and_is_restarted(tmp_path):
    async with (
        SipPhone(default=Behaviour(fault="no_answer")) as phone,
        channel(phone, tmp_path, ring_timeout=20) as ch,
    ):
        await asyncio.wait_for(ch.wait_ready(), 20)
        sending = asyncio.create_task(ch.send(message("105")))
        while not ch.workers[0].calls:
            await asyncio.sleep(0.02)
        old = ch.workers[0].pid
        os.kill(old, signal.SIGKILL)
        with pytest.raises(ChannelError) as err:
            await sending
        assert err.value.temporary and "died" in str(err.value)
        await asyncio.wait_for(ch.wait_ready(), 20)
        assert ch.workers[0].pid != old and ch.workers[0].starts == 2


async def test_twenty_callouts_at_once_through_five_workers_are_all_acknowledged(tmp_path):
    phones = {str(300 + i): Behaviour(answer_after=0.2, press="1", press_after=1.0) for i in range(20)}
    async with (
        SipPhone(phones=phones) as phone,
        channel(phone, tmp_path, workers=5, speed=300, intro="", prompt="Press 1.") as ch,
    ):
        await asyncio.wait_for(ch.wait_ready(), 30)
        receipts = await asyncio.gather(*(ch.send(message(user, n)) for n, user in enumerate(phones)))
        assert max(len(w.calls) for w in ch.workers) <= 4
        acks: dict[str, RadioAck] = {}
        async with asyncio.timeout(30):
            async for event in ch.events():
                assert isinstance(event, RadioAck)
                acks[event.address] = event
                if len(acks) == 20:
                    break
    assert sorted(acks) == sorted(phones)
    assert len({r.channel_ref for r in receipts}) == 20
    assert {r.evidence["worker"] for r in receipts} == {0, 1, 2, 3, 4}
