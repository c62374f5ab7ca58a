"""The pjsua2 thread: the one thread that creates, uses and destroys every pjsua2 object.

Why a thread of its own (shared/protocols/sip-radio.md §1.2, option B): pjsua2 runs with
`threadCnt=0, mainThreadOnly=True`, so every SIP callback runs inside `libHandleEvents()` on the
thread that called `libCreate()`. That thread loops `libHandleEvents(poll_ms)`, drains a
`queue.Queue` of work submitted from asyncio between polls, and reports events back with
`loop.call_soon_threadsafe`. The asyncio thread never calls pjsua2, so no thread needs
`libRegisterThread`, and no blocking pjsua2 call (libDestroy, DNS) ever stalls the event loop.

Pitfalls handled (§1.3):
- Every `Call` is created inside `onIncomingCall` and kept in `_calls` (keyed by SIP Call-ID):
  a wrapper that is not stored is destroyed on return and pjsua answers 500 or 603.
- A finished call is moved to a graveyard in `onCallState(DISCONNECTED)` and dropped on the next
  loop turn, outside the callback; a retired wrapper is kept while a live call has reused its
  slot id (`Call::~Call` would otherwise hang up that live call, pjproject #3856).
- Only this thread holds pjsua2 objects and `Call` wrappers hold no reference cycle through
  themselves, so their destructors run here, deterministically, never from the asyncio thread's GC.
- No Python exception ever escapes a callback into C++ (`_guard`).
- No `LogWriter`: `libDestroy()` deletes the writer itself, which a Python-owned writer does not
  survive; pjsip logs to the console at `pjsip_log_level`, SIP message dumps off.
- Teardown order: hang up all calls, pump events until they are disconnected (bounded), report
  what is left, shut the account down, `gc.collect()`, `libDestroy()`, drop the Endpoint, all on
  this thread.

Per-call resources that pjsua recycles on a timer, not when a call ends (measured on the
pjsua2-python 2.15.1 wheel; a burst of 100 short calls/s used to abort the whole process):
- Media sockets. With real RTP (`media="rtp"`) each call opens an RTP and an RTCP socket, created
  inside pjsua *before* any callback could refuse the INVITE, and registers both in the media
  endpoint's own I/O queue: 64 keys (PJ_IOQUEUE_MAX_HANDLES). A closed socket's key stays out of
  the free list for PJ_IOQUEUE_KEY_FREE_DELAY = 500 ms (pjlib `ioqueue_select.c`,
  `scan_closing_keys`), and registering with no free key is `pj_assert(!pj_list_empty(
  &ioqueue->free_list))`, an abort. The fd count never moves (calls last milliseconds): the
  keys run out, not the descriptors. Above about 60 answered calls/s that was the crash.
  The default `media="none"` answers with pjsua's loopback media transport: no socket, no key.
  With "rtp", `_MediaKeys` counts the keys and `onSelectAccount` (the one callback before the
  media transport exists; it cannot refuse) holds the INVITE back until its keys are free.
- Conference bridge slots (254). pjproject 2.15 removes a call's port through an operation queue
  that only the conference clock drains; the clock is the null sound device, which pjsua closes
  after `sndAutoCloseTime` (1 s) idle. So from the second second on every answered call leaked a
  slot, and after about 250 calls every answer failed with 488. The device is kept open (-1).
- An answer that pjsua fails anyway is reported as CallEnded(answered=False, reason="rejected").

pjsua2's Endpoint is a process-wide singleton (`Endpoint::instance_`): one desk thread may run at
a time per process; a second is refused with a clear error. A stopped desk destroys its Endpoint,
so a process can start and stop desks any number of times (the tests do).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import gc
import ipaddress
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pjsua2 as pj  # type: ignore[import-untyped,import-not-found,unused-ignore]

from adapters.base import HealthState
from adapters.cti import CallAnswered, CallEnded, CallOffered, CtiEvent
from adapters.sip import codec
from gateway.errors import ChannelError, Conflict, NotFound

log = logging.getLogger(__name__)
T = TypeVar("T")

# pjsua2's Endpoint is process-global: one desk at a time (see the module docstring).
_ENDPOINT = threading.Lock()

# Real-RTP calls against the media I/O queue (module docstring): its keys in the wheel
# (PJ_IOQUEUE_MAX_HANDLES), two a call (RTP and RTCP), a few kept spare, and how long a closed
# socket's key stays unusable: PJ_IOQUEUE_KEY_FREE_DELAY (500 ms) plus a margin for our clock.
MEDIA_IOQUEUE_KEYS = 64
_KEYS_PER_CALL = 2
_SPARE_KEYS = 8
KEY_QUARANTINE = 0.6
RTP_CALLS = (MEDIA_IOQUEUE_KEYS - _SPARE_KEYS) // _KEYS_PER_CALL  # calls whose sockets fit: 28


class _MediaKeys:
    """Which INVITEs hold media I/O queue keys, and until when (`time.monotonic()`).

    Each INVITE that reaches `onSelectAccount` holds two keys (pjsua creates its sockets right
    after) until KEY_QUARANTINE after its call ends. One entry per INVITE, not per Call-ID: a
    peer that reuses a Call-ID still opens new sockets. Pure bookkeeping: no pjsua2."""

    def __init__(self, calls: int = RTP_CALLS) -> None:
        self.calls = calls
        self._held: list[tuple[str, float | None]] = []  # (SIP Call-ID, free at; None: in use)

    def wait(self, now: float) -> float:
        """Seconds until one more call's sockets fit (0.0: they fit now)."""
        self._held = [(k, t) for k, t in self._held if t is None or t > now]
        excess = len(self._held) - self.calls + 1
        if excess <= 0:
            return 0.0
        frees = sorted(t for _, t in self._held if t is not None)
        if len(frees) < excess:
            # Not reached: after `settle` only live calls are in use, and max_calls <= `calls`.
            return 0.0
        return frees[excess - 1] - now

    def hold(self, key: str) -> None:
        self._held.append((key, None))

    def release(self, key: str, now: float) -> None:
        """The call ended: its sockets close now, inside this pjsua callback's caller."""
        self._held = [(k, now + KEY_QUARANTINE if k == key and t is None else t) for k, t in self._held]

    def settle(self, live: Collection[str], now: float) -> None:
        """After a loop turn, and before the next INVITE: whatever is not a live call (ended, or
        answered with an error by pjsua, with or without sockets) holds its keys no longer."""
        self._held = [(k, now + KEY_QUARANTINE if t is None and k not in live else t) for k, t in self._held]

    def __len__(self) -> int:
        return len(self._held)


@dataclass(frozen=True, slots=True)
class DeskConfig:
    source: str  # the CTI source's configured name
    bind_address: str
    port: int
    desk: str
    auto_answer: bool
    answer_delay: float  # seconds
    registrar: str | None = None
    username: str | None = None
    password: str | None = None
    realm: str = "*"
    max_calls: int = 4
    log_level: int = 1
    poll_ms: int = 10
    hangup_grace: float = 1.5  # seconds to wait for calls to disconnect at shutdown
    media: str = "none"  # "none": loopback media transport, no sockets; "rtp": real RTP/RTCP
    clock: Callable[[], float] = field(default=time.time)


@dataclass(slots=True)
class _CallState:
    key: str  # SIP Call-ID
    identity: codec.Identity
    remote: str
    offered_at: float
    answer_due: float | None = None  # time.monotonic() deadline for auto-answer
    answered_at: float | None = None
    answer_failed: bool = False  # our 200 failed: if it ends unanswered, it was refused
    ended: bool = False


class _DeskCall(pj.Call):  # type: ignore[misc]
    """One incoming call; every method runs on the pjsua2 thread."""

    def __init__(self, owner: DeskThread, account: Any, call_id: int) -> None:
        pj.Call.__init__(self, account, call_id)
        self.owner = owner
        self.state: _CallState | None = None

    def onCallState(self, prm: Any) -> None:  # noqa: N802 - pjsua2 callback name
        self.owner.guard(self.owner.on_call_state, self)


class _DeskEndpoint(pj.Endpoint):  # type: ignore[misc]
    def __init__(self, owner: DeskThread) -> None:
        pj.Endpoint.__init__(self)
        self.owner = owner

    def onRejectedIncomingCall(self, prm: Any) -> None:  # noqa: N802 - pjsua2 callback name
        self.owner.guard(self.owner.on_rejected_call, prm)

    def onSelectAccount(self, prm: Any) -> None:  # noqa: N802 - pjsua2 callback name
        self.owner.guard(self.owner.on_select_account, prm)


class _DeskAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, owner: DeskThread) -> None:
        pj.Account.__init__(self)
        self.owner = owner

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802 - pjsua2 callback name
        self.owner.guard(self.owner.on_incoming_call, self, prm)

    def onRegState(self, prm: Any) -> None:  # noqa: N802 - pjsua2 callback name
        self.owner.guard(self.owner.on_reg_state, prm)


class DeskThread(threading.Thread):
    """Owns the pjsua2 Endpoint, the account and every call. See the module docstring."""

    def __init__(
        self,
        config: DeskConfig,
        *,
        loop: asyncio.AbstractEventLoop,
        on_event: Callable[[CtiEvent], None],
        on_health: Callable[[HealthState, str], None],
    ) -> None:
        super().__init__(name=f"pjsua2-{config.source}", daemon=True)
        self.config = config
        self._loop = loop
        self._on_event = on_event
        self._on_health = on_health
        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = (
            queue.SimpleQueue()
        )
        # Set by asyncio, read here. NB: never `self._stop`: that shadows Thread._stop (§1.9).
        self._stopping = threading.Event()
        self.started: concurrent.futures.Future[int] = concurrent.futures.Future()
        self.finished: concurrent.futures.Future[None] = concurrent.futures.Future()
        # Everything below is touched only on the pjsua2 thread.
        self._ep: Any = None
        self._account: Any = None
        self._calls: dict[str, _DeskCall] = {}
        self._graveyard: list[_DeskCall] = []
        self._rejected: collections.deque[str] = collections.deque(maxlen=256)
        self._failure = ""
        # Real RTP only: the media I/O queue's keys (module docstring). None: no sockets per call.
        self._media_keys = _MediaKeys() if config.media == "rtp" else None
        self._held_back = 0  # INVITEs held back for media sockets since the last log line
        self._held_back_logged = 0.0
        self._invites = 0  # names an INVITE without a Call-ID in `_media_keys`

    # ---- asyncio side (thread-safe) ------------------------------------------------------------

    def launch(self) -> None:
        if not _ENDPOINT.acquire(blocking=False):
            raise ChannelError(
                "another SIP source is running in this process (pjsua2's Endpoint is a "
                "process-wide singleton)",
                channel=self.config.source,
                temporary=False,
            )
        try:
            self.start()
        except BaseException:
            _ENDPOINT.release()
            raise

    def stop(self) -> None:
        self._stopping.set()

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run `fn` on the pjsua2 thread; its result or exception lands in the future."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        if self._stopping.is_set() or not self.is_alive():
            fut.set_exception(self._not_running())
        else:
            self._commands.put((fn, fut))
        return fut

    # ---- the thread ----------------------------------------------------------------------------

    def run(self) -> None:
        try:
            try:
                port = self._setup()
            except BaseException as exc:  # reported through the future
                error = self._setup_error(exc)
                self._failure = str(error)
                self.started.set_exception(error)
                return
            self.started.set_result(port)
            try:
                self._loop_until_stopped()
            except Exception as exc:
                log.exception("sip desk %s: the pjsua2 loop failed", self.config.desk)
                self._failure = f"pjsua2 loop failed: {_reason(exc)}"
        finally:
            self._teardown()
            _ENDPOINT.release()
            self.finished.set_result(None)

    def _setup(self) -> int:
        c = self.config
        self._ep = _DeskEndpoint(self)
        with _quiet_stdout():  # pjlib prints its banner before the log settings apply
            self._ep.libCreate()  # this thread becomes pjsua2's "main thread"
        ep_cfg = pj.EpConfig()
        ep_cfg.uaConfig.threadCnt = 0
        ep_cfg.uaConfig.mainThreadOnly = True
        # With real RTP, never more live calls than the media I/O queue has sockets for.
        ep_cfg.uaConfig.maxCalls = c.max_calls if self._media_keys is None else min(c.max_calls, RTP_CALLS)
        ep_cfg.uaConfig.userAgent = "callout"
        ep_cfg.logConfig.level = c.log_level
        ep_cfg.logConfig.consoleLevel = c.log_level
        ep_cfg.logConfig.msgLogging = False
        # Keep the null sound device, the conference clock, running: pjproject 2.15 frees a
        # call's conference slot only on a clock tick, and the default closes the device after
        # 1 s idle, leaking a slot per call (254, then every answer fails with 488).
        ep_cfg.medConfig.sndAutoCloseTime = -1
        self._ep.libInit(ep_cfg)
        ipv6 = ipaddress.ip_address(c.bind_address).version == 6
        t_cfg = pj.TransportConfig()
        t_cfg.port = c.port
        t_cfg.boundAddress = c.bind_address
        kind = pj.PJSIP_TRANSPORT_UDP6 if ipv6 else pj.PJSIP_TRANSPORT_UDP
        transport = self._ep.transportCreate(kind, t_cfg)
        local = str(self._ep.transportGetInfo(transport).localName)
        port = int(local.rsplit(":", 1)[1])
        self._ep.libStart()
        self._ep.audDevManager().setNullDev()  # no sound card on servers and CI (§1.3)
        a_cfg = pj.AccountConfig()
        host = f"[{c.bind_address}]" if ipv6 else c.bind_address
        a_cfg.idUri = f"sip:{c.desk}@{host}:{port}"
        a_cfg.sipConfig.transportId = transport
        if not ipaddress.ip_address(c.bind_address).is_unspecified:
            a_cfg.mediaConfig.transportConfig.boundAddress = c.bind_address
        # media="none": pjsua's loopback media transport, so a call opens no socket at all.
        a_cfg.mediaConfig.useLoopMedTp = self._media_keys is None
        if c.registrar is not None:
            registrar_host = c.registrar.split(":", 1)[1].split(";", 1)[0]
            a_cfg.idUri = f"sip:{c.username}@{registrar_host}"
            a_cfg.regConfig.registrarUri = c.registrar
            a_cfg.regConfig.retryIntervalSec = 30
            a_cfg.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", c.realm, c.username, 0, c.password or "")
            )
        self._account = _DeskAccount(self)
        self._account.create(a_cfg)
        if c.registrar is None:
            self._report_health(HealthState.UP, f"listening on udp {local}")
        else:
            self._report_health(HealthState.DEGRADED, f"listening on udp {local}; registering")
        log.info("sip desk %s listening on udp %s", c.desk, local)
        return port

    def _loop_until_stopped(self) -> None:
        while not self._stopping.is_set():
            self._drain_commands()
            self._ep.libHandleEvents(self._wait_ms())
            if self._media_keys is not None:
                self._media_keys.settle(self._calls.keys(), time.monotonic())
            self._answer_due_calls()
            self._reap()

    def _wait_ms(self) -> int:
        dues = [c.state.answer_due for c in self._calls.values() if c.state and c.state.answer_due]
        if not dues:
            return self.config.poll_ms
        return max(0, min(self.config.poll_ms, int((min(dues) - time.monotonic()) * 1000)))

    def _drain_commands(self) -> None:
        while True:
            try:
                fn, fut = self._commands.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the caller
                fut.set_exception(exc)

    def _teardown(self) -> None:
        ep, self._ep = self._ep, None
        try:
            if ep is not None and self._account is not None:
                ep.hangupAllCalls()
                deadline = time.monotonic() + self.config.hangup_grace
                while self._calls and time.monotonic() < deadline:
                    ep.libHandleEvents(10)
            for call in list(self._calls.values()):  # never reported DISCONNECTED in time
                self._ended(call, status=0, sip_reason="not disconnected at shutdown")
            self._fail_commands()
            self._calls.clear()
            self._graveyard.clear()
            if self._account is not None:
                with contextlib.suppress(Exception):
                    self._account.shutdown()
            self._account = None
            gc.collect()  # any stray wrapper dies here, before libDestroy (pjproject #4353)
            if ep is not None:
                flags = 0 if self.config.registrar else pj.PJSUA_DESTROY_NO_NETWORK
                ep.libDestroy(flags)
        except Exception:
            log.exception("sip desk %s: error while shutting down pjsua2", self.config.desk)
        finally:
            del ep  # ~Endpoint clears the process-wide instance, so a new desk can start
            gc.collect()
            self._fail_commands()
            self._report_health(HealthState.DOWN, self._failure or "stopped")

    def _fail_commands(self) -> None:
        while True:
            try:
                _fn, fut = self._commands.get_nowait()
            except queue.Empty:
                return
            if fut.set_running_or_notify_cancel():
                fut.set_exception(self._not_running())

    # ---- callbacks (pjsua2 thread, inside libHandleEvents) -------------------------------------

    def guard(self, fn: Callable[..., None], *args: Any) -> None:
        """Run a callback body; an exception must never unwind into pjsua2's C++ frames."""
        try:
            fn(*args)
        except Exception:
            log.exception("sip desk %s: pjsua2 callback %s failed", self.config.desk, fn.__name__)

    def on_incoming_call(self, account: Any, prm: Any) -> None:
        call = _DeskCall(self, account, prm.callId)  # created here, and stored (§1.3)
        info = call.getInfo()
        key = str(info.callIdString)
        remote = str(info.remoteUri)
        identity = codec.caller_identity(str(prm.rdata.wholeMsg))  # only valid in this callback
        if identity.number is None:  # no usable INVITE text: pjsua's view of From
            addr = codec.parse_name_addr(remote)
            number = codec.uri_number(addr.uri) if addr else None
            if number is not None:
                identity = codec.Identity(
                    number, identity.name, identity.called, identity.call_id, "from", identity.privacy
                )
        state = _CallState(key=key, identity=identity, remote=remote, offered_at=self.config.clock())
        call.state = state
        self._calls[key] = call
        log.info("sip desk %s: call %s offered", self.config.desk, key)
        self._emit(CallOffered, state, state.offered_at, evidence=self._evidence(state))
        ringing = pj.CallOpParam()
        ringing.statusCode = pj.PJSIP_SC_RINGING
        call.answer(ringing)
        if self.config.auto_answer:
            state.answer_due = time.monotonic() + self.config.answer_delay

    def on_select_account(self, prm: Any) -> None:
        """pjsua is about to create this INVITE's media transport: with real RTP, wait here
        until the media I/O queue has keys for its two sockets (the module docstring), at most
        KEY_QUARANTINE. This callback cannot refuse the call, and blocking is the only way to
        keep pjsua from registering a socket with no key left: that is an abort, not an error."""
        keys = self._media_keys
        if keys is None:
            return
        message = str(prm.rdata.wholeMsg)
        if not message.startswith("INVITE "):  # MESSAGE, SUBSCRIBE, NOTIFY: no media
            return
        now = time.monotonic()
        keys.settle(self._calls.keys(), now)  # earlier INVITEs of this loop turn
        wait = keys.wait(now)
        if wait > 0:
            self._held_back += 1
            if now - self._held_back_logged >= 1.0:
                log.warning(
                    "sip desk %s: %d INVITE(s) held back up to %.0f ms: the media I/O queue's "
                    "%d socket slots are in use or cooling down",
                    self.config.desk,
                    self._held_back,
                    wait * 1000,
                    MEDIA_IOQUEUE_KEYS,
                )
                self._held_back, self._held_back_logged = 0, now
            time.sleep(min(wait, KEY_QUARANTINE))
        self._invites += 1
        keys.hold(codec.caller_identity(message).call_id or f"invite-{self._invites}")

    def on_rejected_call(self, prm: Any) -> None:
        """pjsua refused a call before `onIncomingCall` (e.g. 486 when all `max_calls` lines are
        busy). Report it, so no caller is lost without a trace: offered, then ended unanswered."""
        identity = codec.caller_identity(str(prm.rdata.wholeMsg))
        key = identity.call_id or f"rejected-{self.config.clock()}"
        if key in self._rejected:  # a retransmitted INVITE
            return
        self._rejected.append(key)
        now = self.config.clock()
        state = _CallState(key=key, identity=identity, remote=str(prm.remoteInfo), offered_at=now)
        status, sip_reason = int(prm.statusCode), str(prm.reason)
        log.warning("sip desk %s: call %s refused by pjsua: %d %s", self.config.desk, key, status, sip_reason)
        evidence = self._evidence(state) | {"sip_status": status, "sip_reason": sip_reason}
        self._emit(CallOffered, state, now, evidence=self._evidence(state))
        self._emit(CallEnded, state, now, evidence=evidence, answered=False, reason="rejected")

    def on_call_state(self, call: _DeskCall) -> None:
        info = call.getInfo()
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._ended(call, status=int(info.lastStatusCode), sip_reason=str(info.lastReason))

    def on_reg_state(self, prm: Any) -> None:
        code, reason = int(prm.code), str(prm.reason)
        if 200 <= code < 300:
            self._report_health(HealthState.UP, f"registered with {self.config.registrar}")
        else:
            self._report_health(HealthState.DOWN, f"registration failed: {code} {reason}")

    # ---- call handling (pjsua2 thread) ---------------------------------------------------------

    def answer_call(self, call_id: str) -> None:
        """Pick up a ringing call (a dispatcher's `answer`); runs through `submit`."""
        call = self._calls.get(call_id)
        if call is None or call.state is None or call.state.ended:
            raise NotFound("ringing call", call_id)
        if call.state.answered_at is not None:
            raise Conflict(f"call {call_id} is already answered")
        try:
            self._answer(call)
        except pj.Error as exc:
            raise Conflict(f"call {call_id} cannot be answered: {_reason(exc)}") from exc

    def _answer(self, call: _DeskCall) -> None:
        state = call.state
        assert state is not None
        state.answer_due = None
        ok = pj.CallOpParam()
        ok.statusCode = pj.PJSIP_SC_OK
        state.answer_failed = True  # pjsua may end the call inside answer() before it raises
        call.answer(ok)  # raises if the caller has gone, or pjsua could not take the call
        state.answer_failed = False
        state.answered_at = self.config.clock()
        log.info("sip desk %s: call %s answered", self.config.desk, state.key)
        self._emit(CallAnswered, state, state.answered_at, evidence=self._evidence(state))

    def _answer_due_calls(self) -> None:
        now = time.monotonic()
        for call in list(self._calls.values()):
            state = call.state
            if state is None or state.answer_due is None or state.answer_due > now:
                continue
            try:
                self._answer(call)
            except pj.Error as exc:
                log.warning(
                    "sip desk %s: auto-answer of %s failed: %s", self.config.desk, state.key, _reason(exc)
                )
                if not state.ended:  # still ringing: refuse it (reported "rejected") rather than
                    busy = pj.CallOpParam()  # leave the caller ringing until they give up
                    busy.statusCode = pj.PJSIP_SC_SERVICE_UNAVAILABLE
                    with contextlib.suppress(pj.Error):
                        call.hangup(busy)

    def _ended(self, call: _DeskCall, *, status: int, sip_reason: str) -> None:
        state = call.state
        if state is None or state.ended:
            return
        state.ended = True
        state.answer_due = None
        if self._media_keys is not None:
            self._media_keys.release(state.key, time.monotonic())
        answered = state.answered_at is not None
        if self._stopping.is_set():
            reason = "shutdown"
        elif answered:
            reason = "hangup"
        elif state.answer_failed:  # pjsua refused our 200 (e.g. 488: no media resources)
            reason = "rejected"
        else:
            reason = "abandoned"
        at = self.config.clock()
        evidence = self._evidence(state) | {"sip_status": status, "sip_reason": sip_reason}
        if answered and state.answered_at is not None:
            evidence["talk_seconds"] = round(at - state.answered_at, 3)
        log.info("sip desk %s: call %s ended (%s, %d)", self.config.desk, state.key, reason, status)
        self._emit(CallEnded, state, at, evidence=evidence, answered=answered, reason=reason)
        self._retire(call)

    def _retire(self, call: _DeskCall) -> None:
        """Not in the callback: the wrapper waits in the graveyard for the next loop turn (§1.3)."""
        if call.state is not None:
            self._calls.pop(call.state.key, None)
        self._graveyard.append(call)

    def _reap(self) -> None:
        if not self._graveyard:
            return
        live = {c.getId() for c in self._calls.values()}
        # Keep a retired wrapper while a live call reuses its slot id: ~Call would hang it up.
        self._graveyard = [c for c in self._graveyard if c.getId() in live]

    # ---- reporting (pjsua2 thread -> asyncio) --------------------------------------------------

    def _evidence(self, state: _CallState) -> dict[str, Any]:
        ev: dict[str, Any] = {"sip_call_id": state.key, "number_from": state.identity.number_from}
        if state.identity.privacy:
            ev["privacy"] = True
        return ev

    def _emit(
        self,
        kind: type[CallOffered] | type[CallAnswered] | type[CallEnded],
        state: _CallState,
        at: float,
        **extra: Any,
    ) -> None:
        ident = state.identity
        event = kind(
            call_id=state.key,
            at=at,
            caller=ident.number,
            caller_name=ident.name,
            called=ident.called,
            desk=self.config.desk,
            source=self.config.source,
            **extra,
        )
        self._post(self._on_event, event)

    def _report_health(self, state: HealthState, reason: str) -> None:
        self._post(self._on_health, state, reason)

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            self._loop.call_soon_threadsafe(fn, *args)

    def _not_running(self) -> ChannelError:
        return ChannelError("the SIP source is not running", channel=self.config.source, temporary=True)

    def _setup_error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, pj.Error):
            return ChannelError(
                f"pjsua2 could not start the desk endpoint on {self.config.bind_address}:"
                f"{self.config.port}: {_reason(exc)}",
                channel=self.config.source,
                temporary=False,
            )
        return exc


def _reason(exc: BaseException) -> str:
    info = getattr(exc, "info", None)
    if callable(info):
        with contextlib.suppress(Exception):
            return str(info()).strip()
    return repr(exc)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1 (pjlib writes there from C) for the duration of the block."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
