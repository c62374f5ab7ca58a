"""The `voice` channel: phone the responder, speak the message, take a DTMF digit as the reply.

`send()` renders the script with espeak-ng (cached), places the call on a worker with a free
line (adapters/voice/pool.py) and returns when the callee answers: the 200 OK is the evidence
that the message is `sent`. An unanswered call raises `ChannelError` classified by its final
SIP status (adapters/voice/codec.py `classify`). Digits come back through `events()`: "1" as a
`RadioAck` naming the attempt, any other reply digit as `InboundText` for the one reply grammar
(gateway/replies.py), each with the evidence `dtmf`, the call id and when it was answered. An
answered call with no digit stays `sent`, and the ack deadline moves the ladder on. When an
answered call ends, `AttemptEvidence` adds its record to the attempt: talk time, digits, who
hung up and whether the whole message was played.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.base import (
    AttemptEvidence,
    Capabilities,
    Channel,
    HealthState,
    InboundText,
    OutboundMessage,
    RadioAck,
    SendReceipt,
)
from adapters.voice import codec
from adapters.voice.options import Options
from adapters.voice.pool import CallTicket, WorkerDied, WorkerProcess
from adapters.voice.speech import Speech

log = logging.getLogger(__name__)


class VoiceChannel(Channel):
    kind = "voice"

    def __init__(self, *, name: str, options: Options, max_length: int = 400) -> None:
        super().__init__(
            name=name, capabilities=Capabilities(max_length=max_length, max_parts=1, two_way=True)
        )
        self.options = options
        self.workers: list[WorkerProcess] = []
        self._refs = itertools.count(1)
        self._speech: Speech | None = None
        self._line_free: asyncio.Condition | None = None
        self._all_ready: asyncio.Event | None = None
        self.answered = 0

    async def _open(self) -> None:
        o = self.options
        cache = (
            Path(o.cache_dir)
            if o.cache_dir
            else Path(self.stack.enter_context(tempfile.TemporaryDirectory()))
        )
        self._speech = Speech(cache_dir=cache, voice=o.voice, speed=o.speed, channel=self.name)
        self._line_free = asyncio.Condition()
        self._all_ready = asyncio.Event()
        config = {
            "bind_address": o.bind_address,
            "registrar": o.registrar,
            "username": o.username,
            "password": o.password.get_secret_value() if o.password else None,
            "realm": o.realm,
            "from_uri": o.from_uri,
            "log_level": o.pjsip_log_level,
        }
        self.set_health(HealthState.DOWN, "starting voice workers")
        for i in range(o.workers):
            worker = WorkerProcess(
                i,
                config=config,
                capacity=o.calls_per_worker,
                restart_delay=o.restart_delay,
                on_event=self._on_worker_event,
                on_change=self._on_pool_change,
            )
            self.workers.append(worker)
            self.start_task(f"worker-{i}", worker.run)
        self.stack.push_async_callback(self._stop_workers)

    async def _stop_workers(self) -> None:
        await asyncio.gather(*(w.stop() for w in self.workers), return_exceptions=True)

    async def wait_ready(self) -> None:
        """Until every worker is ready (tests and benchmarks; bound it with asyncio.timeout)."""
        assert self._all_ready is not None
        await self._all_ready.wait()

    # ---- pool events ----------------------------------------------------------------------------
    def _on_pool_change(self) -> None:
        ready = sum(w.ready for w in self.workers)
        lines = sum(w.free for w in self.workers)
        if self._all_ready is not None:
            (self._all_ready.set if ready == len(self.workers) else self._all_ready.clear)()
        if ready == len(self.workers):
            self.set_health(HealthState.UP, f"{ready} voice workers")
        elif ready:
            self.set_health(HealthState.DEGRADED, f"{ready} of {len(self.workers)} voice workers up")
        else:
            self.set_health(HealthState.DOWN, "no voice worker is running")
        cond = self._line_free
        if cond is not None and lines:
            asyncio.get_running_loop().create_task(self._notify(cond))

    @staticmethod
    async def _notify(cond: asyncio.Condition) -> None:
        async with cond:
            cond.notify_all()

    def _on_worker_event(self, worker: WorkerProcess, t: CallTicket, m: dict[str, Any]) -> None:
        ev = m.get("ev")
        if ev == "placed":
            t.call_id = str(m.get("call_id") or "")
        elif ev == "answered":
            t.call_id, t.answered_at = str(m.get("call_id") or t.call_id), float(m.get("at") or 0)
            self.answered += 1
            if not t.answered.done():
                t.answered.set_result(m)
        elif ev == "digit":
            self._digit(t, str(m.get("digit", "")), str(m.get("method", "")))
        elif ev in ("ended", "lost"):
            sent = t.answered.done() and not t.answered.cancelled()  # send() returned its receipt
            if not t.answered.done():
                t.answered.set_result(m)
            if not t.ended.done():
                t.ended.set_result(m)
            if sent and t.answered_at is not None:
                self.emit(AttemptEvidence(channel_ref=t.call_id or t.ref, evidence=self._record(t, m)))

    @staticmethod
    def _record(t: CallTicket, m: dict[str, Any]) -> dict[str, Any]:
        """The evidence of an answered call once it is over: talk time, digits, who hung up."""
        ended_at = float(m.get("at") or time.time())
        lost = m.get("ev") == "lost"
        return {
            "sip_call_id": t.call_id,
            "sip_status": 200,
            "answered_at": t.answered_at,
            "ended_at": ended_at,
            "talk_seconds": (
                float(m["talk_seconds"])
                if "talk_seconds" in m
                else round(max(0.0, ended_at - (t.answered_at or ended_at)), 3)
            ),
            "digits": str(m.get("digits", "".join(t.digits))),
            "hung_up_by": "worker lost" if lost else str(m.get("hung_up_by") or ""),
            "message_complete": bool(m.get("message_complete", False)),
        }

    def _digit(self, t: CallTicket, digit: str, method: str) -> None:
        if digit not in codec.DTMF_KEYS:
            return
        t.digits.append(digit)
        evidence = {
            "dtmf": digit,
            "dtmf_method": method,
            "sip_call_id": t.call_id,
            "answered_at": t.answered_at,
            "digits": "".join(t.digits),
        }
        if digit == "1":
            self.emit(RadioAck(address=t.address, message_id=t.message_id, evidence=evidence))
        elif digit in "2345":
            self.emit(InboundText(address=t.address, text=digit, evidence=evidence))
        else:
            log.info("voice %s: key %s on call %s is not a reply", self.name, digit, t.call_id)

    # ---- sending --------------------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendReceipt:
        o = self.options
        speech = self._speech
        assert speech is not None, "send before the channel is open"
        words = codec.script(
            message.text, message.incident_ref, repeat=o.repeat, prompt=o.prompt, intro=o.intro
        )
        audio = await speech.render(words)
        confirm = {d: str(await speech.render(text)) for d, text in o.confirmations.items()}
        worker = await self._free_worker()
        ticket = CallTicket(
            ref=f"{self.name}-{next(self._refs)}",
            address=message.address,
            message_id=message.message_id,
            answered=asyncio.get_running_loop().create_future(),
            ended=asyncio.get_running_loop().create_future(),
        )
        command = {
            "uri": o.uri_template.format(address=message.address),
            "audio": str(audio),
            "confirm": confirm,
            "ring_timeout": o.ring_timeout,
            "digit_timeout": o.digit_timeout,
        }
        try:
            worker.place(ticket, command)
        except WorkerDied as exc:
            raise self.fail(str(exc), temporary=True, endpoint=message.address) from exc
        try:
            result = await ticket.answered
        except asyncio.CancelledError:
            worker.hangup(ticket.ref)  # the engine gave up (send_timeout): CANCEL the call
            raise
        return self._outcome(worker, ticket, result, message.address)

    def _outcome(self, worker: WorkerProcess, t: CallTicket, m: dict[str, Any], address: str) -> SendReceipt:
        ev = m.get("ev")
        evidence: dict[str, Any] = {"sip_call_id": t.call_id, "worker": worker.index}
        if ev == "lost":
            raise self.fail(
                f"voice worker died before the call was answered: {m.get('reason')}",
                temporary=True,
                endpoint=address,
                **evidence,
            )
        if ev == "answered":
            return SendReceipt(
                channel_ref=t.call_id or t.ref,
                evidence=evidence | {"sip_status": 200, "answered_at": t.answered_at},
            )
        if m.get("placed") is False:
            raise self.fail(
                f"could not place the call: {m.get('reason')}", temporary=True, endpoint=address, **evidence
            )
        status = int(m.get("status") or 0)
        verdict = codec.classify(
            status,
            answered=bool(m.get("answered")),
            ring_timeout=self.options.ring_timeout,
            reason=str(m.get("reason") or ""),
        )
        evidence |= {"sip_status": status, "sip_reason": m.get("reason")}
        if verdict.reached:  # answered and ended at once: still answered, the call's record now
            return SendReceipt(channel_ref=t.call_id or t.ref, evidence=evidence | self._record(t, m))
        raise self.fail(verdict.reason, temporary=verdict.temporary, endpoint=address, **evidence)

    async def _free_worker(self) -> WorkerProcess:
        cond = self._line_free
        assert cond is not None
        async with cond:
            while True:
                best = max(self.workers, key=lambda w: w.free, default=None)
                if best is not None and best.free > 0:
                    return best
                await cond.wait()

    def lines_in_use(self) -> int:
        return sum(len(w.calls) for w in self.workers)


def build(name: str, options: dict[str, Any], max_length: int | None = None) -> Channel:
    return VoiceChannel(name=name, options=Options(**options), max_length=max_length or 400)
