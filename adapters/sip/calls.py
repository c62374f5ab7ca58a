"""The calls of one desk, handled on the pjsua2 thread: offered, answered, ended and retired,
each reported as a CTI event.

Everything here runs on the desk thread (adapters/sip/desk.py), inside `libHandleEvents()` (the
pjsua2 callbacks) or between two of its polls; nothing here is thread-safe or needs to be. The
pitfalls of pjsua2's call objects it handles (docs/protocols/sip-desk.md):
- Every `Call` is created inside `onIncomingCall` and kept in `live` (keyed by SIP Call-ID):
  a wrapper that is not stored is destroyed on return and pjsua answers 500 or 603.
- A finished call is moved to a graveyard in `onCallState(DISCONNECTED)` and dropped on the next
  loop turn, outside the callback; a retired wrapper is kept while a live call has reused its
  slot id (`Call::~Call` would otherwise hang up that live call, pjproject #3856).
- No Python exception ever escapes a callback into C++ (`guard`).
- An answer that pjsua fails anyway is reported as CallEnded(answered=False, reason="rejected").
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pjsua2 as pj  # type: ignore[import-untyped,import-not-found,unused-ignore]

from adapters.cti import CallAnswered, CallEnded, CallOffered, CtiEvent
from adapters.errors import Conflict, NotFound
from adapters.sip import codec
from adapters.sip.media_keys import KEY_QUARANTINE, MEDIA_IOQUEUE_KEYS, MediaKeys

if TYPE_CHECKING:
    from adapters.sip.desk import DeskConfig

log = logging.getLogger(__name__)


def guard(desk: str, fn: Callable[..., None], *args: Any) -> None:
    """Run a callback body; an exception must never unwind into pjsua2's C++ frames."""
    try:
        fn(*args)
    except Exception:
        log.exception("sip desk %s: pjsua2 callback %s failed", desk, fn.__name__)


def pj_reason(exc: BaseException) -> str:
    """The text of a `pjsua2.Error` (its `info()`), else the exception's repr."""
    info = getattr(exc, "info", None)
    if callable(info):
        with contextlib.suppress(Exception):
            return str(info()).strip()
    return repr(exc)


@dataclass(slots=True)
class CallState:
    key: str  # SIP Call-ID
    identity: codec.Identity
    remote: str
    offered_at: float
    answer_due: float | None = None  # time.monotonic() deadline for auto-answer
    answered_at: float | None = None
    answer_failed: bool = False  # our 200 failed: if it ends unanswered, it was refused
    ended: bool = False


class DeskCall(pj.Call):  # type: ignore[misc]
    """One incoming call; every method runs on the pjsua2 thread."""

    def __init__(self, owner: DeskCalls, account: Any, call_id: int) -> None:
        pj.Call.__init__(self, account, call_id)
        self.owner = owner
        self.state: CallState | None = None

    def onCallState(self, prm: Any) -> None:  # noqa: N802 - pjsua2 callback name
        guard(self.owner.config.desk, self.owner.on_call_state, self)


class DeskCalls:
    """Every call of one desk: the pjsua2 callbacks about calls, auto-answer and the graveyard."""

    def __init__(
        self,
        config: DeskConfig,
        *,
        emit: Callable[[CtiEvent], None],
        stopping: threading.Event,
        media_keys: MediaKeys | None,
    ) -> None:
        self.config = config
        self._emit_event = emit  # thread-safe: posts to the asyncio loop
        self._stopping = stopping  # set: every call that ends now ends with "shutdown"
        # Real RTP only: the media I/O queue's keys (adapters/sip/media_keys.py). None: no sockets.
        self.media_keys = media_keys
        self.live: dict[str, DeskCall] = {}
        self._graveyard: list[DeskCall] = []
        self._rejected: collections.deque[str] = collections.deque(maxlen=256)
        self._held_back = 0  # INVITEs held back for media sockets since the last log line
        self._held_back_logged = 0.0
        self._invites = 0  # names an INVITE without a Call-ID in `media_keys`

    # ---- callbacks (inside libHandleEvents) ----------------------------------------------------

    def on_incoming_call(self, account: Any, prm: Any) -> None:
        call = DeskCall(self, account, prm.callId)  # created here, and stored (§1.3)
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
        state = CallState(key=key, identity=identity, remote=remote, offered_at=self.config.clock())
        call.state = state
        self.live[key] = call
        log.info("sip desk %s: call %s offered", self.config.desk, key)
        self._emit(CallOffered, state, state.offered_at, evidence=self._evidence(state))
        ringing = pj.CallOpParam()
        ringing.statusCode = pj.PJSIP_SC_RINGING
        call.answer(ringing)
        if self.config.auto_answer:
            state.answer_due = time.monotonic() + self.config.answer_delay

    def on_select_account(self, prm: Any) -> None:
        """pjsua is about to create this INVITE's media transport: with real RTP, wait here
        until the media I/O queue has keys for its two sockets (adapters/sip/media_keys.py), at
        most KEY_QUARANTINE. This callback cannot refuse the call, and blocking is the only way
        to keep pjsua from registering a socket with no key left: that is an abort, not an error."""
        keys = self.media_keys
        if keys is None:
            return
        message = str(prm.rdata.wholeMsg)
        if not message.startswith("INVITE "):  # MESSAGE, SUBSCRIBE, NOTIFY: no media
            return
        now = time.monotonic()
        keys.settle(self.live.keys(), now)  # earlier INVITEs of this loop turn
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
        state = CallState(key=key, identity=identity, remote=str(prm.remoteInfo), offered_at=now)
        status, sip_reason = int(prm.statusCode), str(prm.reason)
        log.warning("sip desk %s: call %s refused by pjsua: %d %s", self.config.desk, key, status, sip_reason)
        evidence = self._evidence(state) | {"sip_status": status, "sip_reason": sip_reason}
        self._emit(CallOffered, state, now, evidence=self._evidence(state))
        self._emit(CallEnded, state, now, evidence=evidence, answered=False, reason="rejected")

    def on_call_state(self, call: DeskCall) -> None:
        info = call.getInfo()
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._ended(call, status=int(info.lastStatusCode), sip_reason=str(info.lastReason))

    # ---- between polls -------------------------------------------------------------------------

    def answer_call(self, call_id: str) -> None:
        """Pick up a ringing call (a dispatcher's `answer`); runs through `DeskThread.submit`."""
        call = self.live.get(call_id)
        if call is None or call.state is None or call.state.ended:
            raise NotFound("ringing call", call_id)
        if call.state.answered_at is not None:
            raise Conflict(f"call {call_id} is already answered")
        try:
            self._answer(call)
        except pj.Error as exc:
            raise Conflict(f"call {call_id} cannot be answered: {pj_reason(exc)}") from exc

    def next_answer_due(self) -> float | None:
        """The earliest auto-answer deadline (`time.monotonic()`), if any call is waiting for one."""
        dues = [c.state.answer_due for c in self.live.values() if c.state and c.state.answer_due]
        return min(dues) if dues else None

    def answer_due_calls(self) -> None:
        now = time.monotonic()
        for call in list(self.live.values()):
            state = call.state
            if state is None or state.answer_due is None or state.answer_due > now:
                continue
            try:
                self._answer(call)
            except pj.Error as exc:
                log.warning(
                    "sip desk %s: auto-answer of %s failed: %s", self.config.desk, state.key, pj_reason(exc)
                )
                if not state.ended:  # still ringing: refuse it (reported "rejected") rather than
                    busy = pj.CallOpParam()  # leave the caller ringing until they give up
                    busy.statusCode = pj.PJSIP_SC_SERVICE_UNAVAILABLE
                    with contextlib.suppress(pj.Error):
                        call.hangup(busy)

    def settle_media(self) -> None:
        """After a loop turn: calls that are gone hold their media keys no longer."""
        if self.media_keys is not None:
            self.media_keys.settle(self.live.keys(), time.monotonic())

    def reap(self) -> None:
        if not self._graveyard:
            return
        live = {c.getId() for c in self.live.values()}
        # Keep a retired wrapper while a live call reuses its slot id: ~Call would hang it up.
        self._graveyard = [c for c in self._graveyard if c.getId() in live]

    def end_unfinished(self) -> None:
        """At shutdown: report the calls that never reported DISCONNECTED in time."""
        for call in list(self.live.values()):
            self._ended(call, status=0, sip_reason="not disconnected at shutdown")

    def clear(self) -> None:
        """Drop every wrapper (on this thread, before libDestroy)."""
        self.live.clear()
        self._graveyard.clear()

    def _answer(self, call: DeskCall) -> None:
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

    def _ended(self, call: DeskCall, *, status: int, sip_reason: str) -> None:
        state = call.state
        if state is None or state.ended:
            return
        state.ended = True
        state.answer_due = None
        if self.media_keys is not None:
            self.media_keys.release(state.key, time.monotonic())
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

    def _retire(self, call: DeskCall) -> None:
        """Not in the callback: the wrapper waits in the graveyard for the next loop turn (§1.3)."""
        if call.state is not None:
            self.live.pop(call.state.key, None)
        self._graveyard.append(call)

    # ---- reporting -----------------------------------------------------------------------------

    def _evidence(self, state: CallState) -> dict[str, Any]:
        ev: dict[str, Any] = {"sip_call_id": state.key, "number_from": state.identity.number_from}
        if state.identity.privacy:
            ev["privacy"] = True
        return ev

    def _emit(
        self,
        kind: type[CallOffered] | type[CallAnswered] | type[CallEnded],
        state: CallState,
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
        self._emit_event(event)
