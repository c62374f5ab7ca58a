"""One pjsua2 worker process: up to four outgoing voice calls (`python -m adapters.voice.worker`).

Why a process (docs/protocols/voice.md, "The worker pool"): the pjsua2-python wheel is built
with PJSUA_MAX_CALLS = 4 and its Endpoint is a process-wide singleton, so more calls need more
processes. The channel (adapters/voice/pool.py) talks to each worker over stdin/stdout, one JSON
object per line (adapters/voice/codec.py); the first line is the `config`. The main thread is
the pjsua2 thread (threadCnt=0, mainThreadOnly): it polls `libHandleEvents` and, between polls,
drains the commands a reader thread takes from stdin. Pitfalls as on the desk
(adapters/sip/calls.py): every `Call` wrapper is kept until its call is over and dropped outside
the callback; no exception unwinds into C++; the null sound device stays open.

A call: `makeCall` to the URI; CANCEL at `ring_timeout`; on media the WAV (message, repeats and
prompt, rendered by the channel) is played over RTP; DTMF digits (RFC 4733 telephone-events and
SIP INFO, both through `onDtmfDigit`) are reported; the first reply digit (1-5) plays the
confirmation and hangs up after it; no digit within `digit_timeout` after the message: hang up.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import queue
import sys
import threading
import time
import wave
from dataclasses import dataclass, field
from typing import Any

import pjsua2 as pj  # type: ignore[import-untyped,import-not-found,unused-ignore]

from adapters.voice.codec import decode_line, encode

log = logging.getLogger("adapters.voice.worker")
REPLY_DIGITS = frozenset("12345")
_OUT = threading.Lock()
_PROTOCOL_FD = [1]  # the channel's end of stdout; fd 1 itself goes to stderr (pjlib prints there)


def emit(message: dict[str, Any]) -> None:
    with _OUT:
        os.write(_PROTOCOL_FD[0], encode(message))


def wav_seconds(path: str) -> float:
    with wave.open(path, "rb") as w:
        return w.getnframes() / float(w.getframerate())


@dataclass(slots=True)
class Outgoing:
    ref: str
    uri: str
    audio: str
    confirm: dict[str, str]  # reply digit -> WAV of its confirmation
    ring_timeout: float
    digit_timeout: float
    started: float = field(default_factory=time.monotonic)
    answered_at: float | None = None  # time.time()
    answered_mono: float | None = None
    message_ends: float | None = None
    message_started: float | None = None  # monotonic, when the script began to play
    message_length: float = 0.0
    hangup_at: float | None = None
    digits: str = ""
    confirmed: bool = False
    hung_up: bool = False
    ended: bool = False
    call_id: str = ""
    players: list[Any] = field(default_factory=list)


def _guard(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("voice worker: pjsua2 callback %s failed", getattr(fn, "__name__", fn))


class VoiceCall(pj.Call):  # type: ignore[misc]
    def __init__(self, owner: Worker, account: Any, state: Outgoing) -> None:
        pj.Call.__init__(self, account)
        self.owner = owner
        self.state = state

    def onCallState(self, prm: Any) -> None:  # noqa: N802 - pjsua2 callback name
        _guard(self.owner.on_call_state, self)

    def onCallMediaState(self, prm: Any) -> None:  # noqa: N802
        _guard(self.owner.on_media, self)

    def onDtmfDigit(self, prm: Any) -> None:  # noqa: N802 - RFC 4733 events and SIP INFO
        _guard(self.owner.on_digit, self, str(prm.digit), int(getattr(prm, "method", 0)))


class Worker:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.commands: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self.calls: dict[str, VoiceCall] = {}
        self.graveyard: list[VoiceCall] = []
        self.ep: Any = None
        self.account: Any = None
        self.running = True
        self.deferred: list[dict[str, Any]] = []  # calls pjsua had no free slot for yet

    # ---- setup ----------------------------------------------------------------------------------
    def start(self) -> str:
        c = self.config
        ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = 4
        cfg.uaConfig.userAgent = "callout-voice"
        cfg.logConfig.level = int(c.get("log_level", 1))
        cfg.logConfig.consoleLevel = int(c.get("log_level", 1))
        cfg.logConfig.msgLogging = False
        cfg.medConfig.sndAutoCloseTime = -1  # keep the conference clock running (adapters/sip/desk.py)
        cfg.medConfig.noVad = True  # RTP all call long: PBXs hang up on an RTP timeout
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        ep.libInit(cfg)
        t = pj.TransportConfig()
        t.port = 0
        t.boundAddress = c["bind_address"]
        tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, t)
        local = str(ep.transportGetInfo(tid).localName)
        ep.libStart()
        ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():  # G.711 µ-law (PCMU) first: every phone and PBX has it
            prio = (
                255 if codec.codecId.startswith("PCMU/") else 200 if codec.codecId.startswith("PCMA/") else 0
            )
            ep.codecSetPriority(codec.codecId, prio)
        a = pj.AccountConfig()
        a.idUri = c.get("from_uri") or f"sip:callout@{local}"
        a.sipConfig.transportId = tid
        a.mediaConfig.transportConfig.boundAddress = c["bind_address"]
        if c.get("registrar"):
            a.regConfig.registrarUri = c["registrar"]
            a.regConfig.retryIntervalSec = 30
        else:
            a.regConfig.registerOnAdd = False
        if c.get("username"):
            a.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", c.get("realm", "*"), c["username"], 0, c.get("password") or "")
            )
        acc = pj.Account()
        acc.create(a)
        self.ep, self.account = ep, acc
        return local

    # ---- commands (between polls) ---------------------------------------------------------------
    def run(self) -> None:
        while self.running:
            self.drain()
            self.ep.libHandleEvents(10)
            self.timers()
            self.reap()
        self.shutdown()

    def drain(self) -> None:
        retry, self.deferred = self.deferred, []
        for again in retry:
            self.place(again)
        while True:
            try:
                cmd = self.commands.get_nowait()
            except queue.Empty:
                return
            if cmd is None or cmd.get("op") == "quit":
                self.running = False
                return
            if cmd.get("op") == "call":
                self.place(cmd)
            elif cmd.get("op") == "hangup":
                call = self.calls.get(str(cmd.get("ref")))
                if call is not None:
                    self.hangup(call, 200)

    def place(self, cmd: dict[str, Any]) -> None:
        state = Outgoing(
            ref=str(cmd["ref"]),
            uri=str(cmd["uri"]),
            audio=str(cmd["audio"]),
            confirm={str(k): str(v) for k, v in dict(cmd.get("confirm") or {}).items()},
            ring_timeout=float(cmd["ring_timeout"]),
            digit_timeout=float(cmd["digit_timeout"]),
        )
        call = VoiceCall(self, self.account, state)
        prm = pj.CallOpParam(True)
        prm.opt.audioCount = 1
        prm.opt.videoCount = 0
        try:
            call.makeCall(state.uri, prm)
        except pj.Error as exc:
            # A line pjsua frees just after DISCONNECTED is not free yet: try again next turns.
            tries = int(cmd.get("_tries", 0))
            if tries < 50 and self.running:
                self.deferred.append(cmd | {"_tries": tries + 1})
                return
            emit(
                {
                    "ev": "ended",
                    "ref": state.ref,
                    "status": 0,
                    "reason": _reason(exc),
                    "answered": False,
                    "placed": False,
                }
            )
            return
        with contextlib.suppress(pj.Error):
            state.call_id = str(call.getInfo().callIdString)
        self.calls[state.ref] = call
        emit({"ev": "placed", "ref": state.ref, "call_id": state.call_id})

    def timers(self) -> None:
        now = time.monotonic()
        for call in list(self.calls.values()):
            s = call.state
            if s.ended or s.hung_up:
                continue
            if s.answered_mono is None and now - s.started > s.ring_timeout:
                self.hangup(call, 487)  # CANCEL (RFC 3261 §9.1): no answer in time
            elif self._hangup_due(s, now):
                self.hangup(call, 200)

    @staticmethod
    def _hangup_due(s: Outgoing, now: float) -> bool:
        """The confirmation was played, or no digit came within digit_timeout after the message."""
        if s.hangup_at is not None:
            return now >= s.hangup_at
        return s.message_ends is not None and not s.confirmed and now >= s.message_ends + s.digit_timeout

    def hangup(self, call: VoiceCall, code: int) -> None:
        prm = pj.CallOpParam()
        prm.statusCode = code if code >= 300 else 0
        call.state.hung_up = True  # nothing more to time; before hangup(), which may end the call at once
        with contextlib.suppress(pj.Error):
            call.hangup(prm)

    def reap(self) -> None:
        for call in list(self.calls.values()):
            if call.state.ended:
                del self.calls[call.state.ref]
                call.state.players.clear()
                self.graveyard.append(call)
        if len(self.graveyard) > 16:
            self.graveyard = self.graveyard[-16:]

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self.ep.hangupAllCalls()
            deadline = time.monotonic() + 1.0
            while any(not c.state.ended for c in self.calls.values()) and time.monotonic() < deadline:
                self.ep.libHandleEvents(10)
        # Every Call wrapper dies before libDestroy: a wrapper destroyed after it asserts in
        # pjsua_call_set_user_data and aborts the worker (no loop variable may keep one alive).
        calls = [*self.calls.values(), *self.graveyard]
        self.calls.clear()
        self.graveyard.clear()
        while calls:
            calls.pop().state.players.clear()
        gc.collect()  # any stray wrapper dies here (pjproject #4353, as on the desk)
        with contextlib.suppress(Exception):
            self.account.shutdown()
        with contextlib.suppress(Exception):
            self.ep.libDestroy()

    # ---- callbacks (inside libHandleEvents) -----------------------------------------------------
    def on_call_state(self, call: VoiceCall) -> None:
        info = call.getInfo()
        s = call.state
        s.call_id = s.call_id or str(info.callIdString)
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and s.answered_mono is None:
            s.answered_mono, s.answered_at = time.monotonic(), time.time()
            emit({"ev": "answered", "ref": s.ref, "call_id": s.call_id, "at": s.answered_at})
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not s.ended:
            s.ended = True
            now = time.monotonic()
            talk = round(now - s.answered_mono, 3) if s.answered_mono else 0.0
            played = now - s.message_started if s.message_started is not None else 0.0
            emit(
                {
                    "ev": "ended",
                    "ref": s.ref,
                    "call_id": s.call_id,
                    "status": int(info.lastStatusCode),
                    "reason": str(info.lastReason),
                    "answered": s.answered_mono is not None,
                    "talk_seconds": talk,
                    "digits": s.digits,
                    "placed": True,
                    "at": time.time(),
                    "hung_up_by": "callout" if s.hung_up else "callee",
                    "message_complete": s.message_started is not None and played >= s.message_length,
                }
            )

    def on_media(self, call: VoiceCall) -> None:
        s = call.state
        if s.players:
            return
        info = call.getInfo()
        for i, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.play(call, call.getAudioMedia(i), s.audio)
                s.message_started, s.message_length = time.monotonic(), wav_seconds(s.audio)
                s.message_ends = s.message_started + s.message_length
                return

    def play(self, call: VoiceCall, sink: Any, path: str) -> None:
        for old in call.state.players:
            with contextlib.suppress(pj.Error):
                old.stopTransmit(sink)
        player = pj.AudioMediaPlayer()
        player.createPlayer(path, pj.PJMEDIA_FILE_NO_LOOP)
        player.startTransmit(sink)
        call.state.players.append(player)

    def on_digit(self, call: VoiceCall, digit: str, method: int) -> None:
        s = call.state
        s.digits += digit
        emit(
            {
                "ev": "digit",
                "ref": s.ref,
                "digit": digit,
                "call_id": s.call_id,
                "method": "info" if method == 1 else "rfc4733",
            }
        )
        if digit in REPLY_DIGITS and not s.confirmed and s.answered_mono is not None:
            s.confirmed = True
            s.message_ends = None
            seconds = 0.2
            path = s.confirm.get(digit)
            if path:
                with contextlib.suppress(pj.Error):
                    self.play(call, call.getAudioMedia(-1), path)
                seconds = wav_seconds(path) + 0.3
            s.hangup_at = time.monotonic() + seconds


def _reason(exc: BaseException) -> str:
    info = getattr(exc, "info", None)
    if callable(info):
        with contextlib.suppress(Exception):
            return str(info()).strip()
    return repr(exc)


def _read_commands(worker: Worker) -> None:
    for raw in sys.stdin.buffer:
        try:
            worker.commands.put(decode_line(raw))
        except ValueError as exc:
            log.warning("voice worker: bad command line: %s", exc)
    worker.commands.put(None)  # the channel closed our stdin: stop


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    first = sys.stdin.buffer.readline()
    if not first:
        return 1
    config = json.loads(first)
    # pjlib writes to fd 1 from C: the protocol keeps a copy of stdout, fd 1 becomes stderr.
    _PROTOCOL_FD[0] = os.dup(1)
    os.dup2(2, 1)
    worker = Worker(config)
    try:
        local = worker.start()
    except pj.Error as exc:
        emit({"ev": "failed", "reason": _reason(exc)})
        return 2
    emit({"ev": "ready", "local": local, "pid": os.getpid()})
    threading.Thread(target=_read_commands, args=(worker,), daemon=True, name="stdin").start()
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
