"""The pjsua2 thread: the one thread that creates, uses and destroys every pjsua2 object.

Why a thread of its own (docs/protocols/sip-desk.md, "Calls and media"): pjsua2 runs with
`threadCnt=0, mainThreadOnly=True`, so every SIP callback runs inside `libHandleEvents()` on the
thread that called `libCreate()`. That thread loops `libHandleEvents(poll_ms)`, drains a
`queue.Queue` of work submitted from asyncio between polls, and reports events back with
`loop.call_soon_threadsafe`. The asyncio thread never calls pjsua2, so no thread needs
`libRegisterThread`, and no blocking pjsua2 call (libDestroy, DNS) ever stalls the event loop.
The calls themselves are handled by `DeskCalls` (adapters/sip/calls.py), on this thread.

Pitfalls handled here (§1.3; those of the call objects are in adapters/sip/calls.py):
- Only this thread holds pjsua2 objects and `Call` wrappers hold no reference cycle through
  themselves, so their destructors run here, deterministically, never from the asyncio thread's GC.
- No Python exception ever escapes a callback into C++ (`calls.guard`).
- No `LogWriter`: `libDestroy()` deletes the writer itself, which a Python-owned writer does not
  survive; pjsip logs to the console at `pjsip_log_level`, SIP message dumps off.
- Teardown order: hang up all calls, pump events until they are disconnected (bounded), report
  what is left, shut the account down, `gc.collect()`, `libDestroy()`, drop the Endpoint, all on
  this thread.

Per-call resources that pjsua recycles on a timer, not when a call ends (measured on the
pjsua2-python 2.15.1 wheel; a burst of 100 short calls/s used to abort the whole process):
- Media sockets (real RTP only): the media I/O queue's 64 keys, each kept 500 ms after its
  socket closes (adapters/sip/media_keys.py). The default `media="none"` answers with pjsua's
  loopback media transport: no socket, no key.
- Conference bridge slots (254). pjproject 2.15 removes a call's port through an operation queue
  that only the conference clock drains; the clock is the null sound device, which pjsua closes
  after `sndAutoCloseTime` (1 s) idle. So from the second second on every answered call leaked a
  slot, and after about 250 calls every answer failed with 488. The device is kept open (-1).

pjsua2's Endpoint is a process-wide singleton (`Endpoint::instance_`): one desk thread may run at
a time per process; a second is refused with a clear error. A stopped desk destroys its Endpoint,
so a process can start and stop desks any number of times (the tests do).
"""

from __future__ import annotations

import asyncio
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pjsua2 as pj  # type: ignore[import-untyped,import-not-found,unused-ignore]

from adapters.base import HealthState
from adapters.cti import CtiEvent
from adapters.errors import ChannelError
from adapters.sip.calls import DeskCalls, guard, pj_reason
from adapters.sip.media_keys import RTP_CALLS, MediaKeys

__all__ = ["DeskConfig", "DeskThread"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# pjsua2's Endpoint is process-global: one desk at a time (see the module docstring).
_ENDPOINT = threading.Lock()


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


class _DeskEndpoint(pj.Endpoint):  # type: ignore[misc]
    def __init__(self, owner: DeskThread) -> None:
        pj.Endpoint.__init__(self)
        self.owner = owner

    def onRejectedIncomingCall(self, prm: Any) -> None:  # noqa: N802 - pjsua2 callback name
        guard(self.owner.config.desk, self.owner.calls.on_rejected_call, prm)

    def onSelectAccount(self, prm: Any) -> None:  # noqa: N802 - pjsua2 callback name
        guard(self.owner.config.desk, self.owner.calls.on_select_account, prm)


class _DeskAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, owner: DeskThread) -> None:
        pj.Account.__init__(self)
        self.owner = owner

    def onIncomingCall(self, prm: Any) -> None:  # noqa: N802 - pjsua2 callback name
        guard(self.owner.config.desk, self.owner.calls.on_incoming_call, self, prm)

    def onRegState(self, prm: Any) -> None:  # noqa: N802 - pjsua2 callback name
        guard(self.owner.config.desk, self.owner.on_reg_state, prm)


class DeskThread(threading.Thread):
    """Owns the pjsua2 Endpoint, the account and the desk's calls. See the module docstring."""

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
        self._failure = ""
        # Real RTP only: the media I/O queue's keys (adapters/sip/media_keys.py).
        self._media_keys = MediaKeys() if config.media == "rtp" else None
        self.calls = DeskCalls(
            config, emit=self._report_event, stopping=self._stopping, media_keys=self._media_keys
        )

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

    def answer_call(self, call_id: str) -> None:
        """Pick up a ringing call (NotFound, Conflict); only through `submit`."""
        self.calls.answer_call(call_id)

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
                self._failure = f"pjsua2 loop failed: {pj_reason(exc)}"
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
            self.calls.settle_media()
            self.calls.answer_due_calls()
            self.calls.reap()

    def _wait_ms(self) -> int:
        due = self.calls.next_answer_due()
        if due is None:
            return self.config.poll_ms
        return max(0, min(self.config.poll_ms, int((due - time.monotonic()) * 1000)))

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
                while self.calls.live and time.monotonic() < deadline:
                    ep.libHandleEvents(10)
            self.calls.end_unfinished()  # never reported DISCONNECTED in time
            self._fail_commands()
            self.calls.clear()
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

    # ---- account and reporting (pjsua2 thread -> asyncio) --------------------------------------

    def on_reg_state(self, prm: Any) -> None:
        code, reason = int(prm.code), str(prm.reason)
        if 200 <= code < 300:
            self._report_health(HealthState.UP, f"registered with {self.config.registrar}")
        else:
            self._report_health(HealthState.DOWN, f"registration failed: {code} {reason}")

    def _report_event(self, event: CtiEvent) -> None:
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
                f"{self.config.port}: {pj_reason(exc)}",
                channel=self.config.source,
                temporary=False,
            )
        return exc


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
