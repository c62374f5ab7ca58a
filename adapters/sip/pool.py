"""The pooled SIP desk: K desk worker processes (adapters/sip/worker.py) behind one SIP front.

`options.workers` >= 1 selects it (docs/protocols/sip-desk.md, "Past four calls"). The front
(adapters/sip/front.py) listens on the desk's address and port; each worker is a pjsua2 desk of
four lines on a private port, started and supervised here as a named child of the lifecycle
skeleton. A worker that dies (a crash, `kill -9`) is started again after a short delay; its
answered calls are already incidents in the store, and the calls it still held are reported
ended ("worker lost") so no call stays open forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from adapters.base import HealthState
from adapters.cti import CallEnded, CallOffered, CtiEvent, CtiSource
from adapters.errors import ChannelError, Conflict, NotFound
from adapters.sip import codec, wire
from adapters.sip.front import FrontRouter
from adapters.sip.options import Options
from adapters.voice.codec import LineDecoder, encode

log = logging.getLogger(__name__)
LINES = 4  # the pjsua2-python wheel's PJSUA_MAX_CALLS


@dataclass(slots=True)
class DeskWorker:
    index: int
    proc: asyncio.subprocess.Process | None = None
    port: int | None = None
    open_calls: dict[str, CtiEvent] = field(default_factory=dict)
    starts: int = 0
    health: tuple[HealthState, str] = (HealthState.DOWN, "starting")
    drained: asyncio.Event | None = None  # set when the current process's stdout is read to the end

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


class _FrontSocket(asyncio.DatagramProtocol):
    def __init__(self, owner: PooledSipSource) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.owner.on_datagram(data, (addr[0], addr[1]))


class PooledSipSource(CtiSource):
    kind = "sip"
    restart_delay = 0.3

    def __init__(self, *, name: str, options: Options) -> None:
        super().__init__(name=name)
        self.options = options
        self.workers = [DeskWorker(i) for i in range(options.workers)]
        self.local_port: int | None = None
        self.router: FrontRouter | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._results: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._seq = itertools.count(1)
        self._ready: asyncio.Event | None = None
        self._worker_host = "127.0.0.1"
        self._stopped = False

    async def _open(self) -> None:
        o = self.options
        loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        try:
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _FrontSocket(self), local_addr=(o.bind_address, o.port)
            )
        except OSError as exc:
            reason = f"could not start the SIP front on udp {o.bind_address}:{o.port}: {exc}"
            self.set_health(HealthState.DOWN, reason)
            raise ChannelError(reason, channel=self.name, temporary=False) from exc
        self.stack.callback(self._transport.close)
        self.local_port = int(self._transport.get_extra_info("sockname")[1])
        ip = ipaddress.ip_address(o.bind_address)
        self._worker_host = (
            ("::1" if ip.version == 6 else "127.0.0.1") if ip.is_unspecified else o.bind_address
        )
        front_host = self._worker_host
        self.router = FrontRouter(
            host=front_host, port=self.local_port, free_lines=self._free_lines, workers=self._address
        )
        self.set_health(HealthState.DOWN, "starting desk workers")
        for w in self.workers:
            self.start_task(f"worker-{w.index}", lambda w=w: self._keep_running(w))  # type: ignore[misc]
        self.start_task("front-clock", self._front_clock)
        self.stack.push_async_callback(self._stop_workers)
        await asyncio.wait_for(self._ready.wait(), 30)

    # ---- the front ------------------------------------------------------------------------------
    def _free_lines(self) -> list[tuple[int, int]]:
        return [(w.index, min(LINES, self.options.max_calls)) for w in self.workers if w.port is not None]

    def _address(self, index: int) -> tuple[str, int] | None:
        port = self.workers[index].port
        return (self._worker_host, port) if port is not None else None

    def on_datagram(self, data: bytes, source: tuple[str, int]) -> None:
        router, transport = self.router, self._transport
        if router is None or transport is None:
            return
        now = time.monotonic()
        self._send(router.handle(data, source, now))
        self._send(router.expire(now))

    def _send(self, datagrams: list[tuple[bytes, tuple[str, int]]]) -> None:
        transport, router = self._transport, self.router
        if transport is not None:
            for out, target in datagrams:
                transport.sendto(out, target)
        while router is not None and router.refused:
            self._report_refused(router.refused.pop(0).raw)

    async def _front_clock(self) -> None:
        """INVITEs held for a free line go on after HOLD even when no datagram comes."""
        while True:
            await asyncio.sleep(0.05)
            if self.router is not None and self.router.held:
                self._send(self.router.expire(time.monotonic()))

    def _report_refused(self, raw: bytes) -> None:
        ident = codec.caller_identity(raw.decode("utf-8", "replace"))
        key = ident.call_id or f"refused-{time.time()}"
        common: dict[str, Any] = {
            "call_id": key,
            "at": time.time(),
            "caller": ident.number,
            "caller_name": ident.name,
            "called": ident.called,
            "desk": self.options.desk,
            "source": self.name,
        }
        evidence = {"sip_call_id": key, "number_from": ident.number_from}
        log.warning("sip desk %s: call %s refused: every worker line is busy", self.options.desk, key)
        self.emit(CallOffered(**common, evidence=evidence))
        self.emit(
            CallEnded(
                **common,
                evidence=evidence | {"sip_status": 486, "sip_reason": "Busy Here"},
                answered=False,
                reason="rejected",
            )
        )

    # ---- workers --------------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        o = self.options
        return {
            "source": self.name,
            "bind_address": self._worker_host,
            "port": 0,
            "desk": o.desk,
            "auto_answer": o.auto_answer,
            "answer_delay": o.answer_delay_ms / 1000,
            "registrar": o.registrar,
            "username": o.username,
            "password": o.password.get_secret_value() if o.password else None,
            "realm": o.realm,
            "max_calls": min(LINES, o.max_calls),
            "media": o.media,
            "log_level": o.pjsip_log_level,
        }

    async def _keep_running(self, w: DeskWorker) -> None:
        while True:
            try:
                await self._one_process(w)
            finally:
                self._lost(w)
            await asyncio.sleep(self.restart_delay)

    async def _one_process(self, w: DeskWorker) -> None:
        w.starts += 1
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adapters.sip.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        w.proc = proc
        w.drained = drained = asyncio.Event()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(encode({"op": "config", **self._config()}))
            decoder = LineDecoder()
            while data := await proc.stdout.read(65536):
                try:
                    messages = decoder.feed(data)
                except ValueError as exc:
                    log.warning("sip desk worker %d: %s", w.index, exc)
                    continue
                for m in messages:
                    self._handle(w, m)
            drained.set()
            code = await proc.wait()
            if not self.closing:
                log.warning("sip desk worker %d (pid %d) exited with %s", w.index, proc.pid, code)
        finally:
            drained.set()
            w.proc = None
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(Exception):
                    await asyncio.shield(proc.wait())

    def _handle(self, w: DeskWorker, m: dict[str, Any]) -> None:
        ev = m.get("ev")
        if ev == "ready":
            w.port = int(m["port"])
            self._report_pool_health()
        elif ev == "event":
            try:
                event = wire.event_from_dict(m["event"])
            except (ValueError, KeyError) as exc:
                log.warning("sip desk worker %d: %s", w.index, exc)
                return
            if isinstance(event, CallEnded):
                w.open_calls.pop(event.call_id, None)
                if self.router is not None:
                    self._send(self.router.call_ended(event.call_id, time.monotonic()))
            else:
                w.open_calls[event.call_id] = event
            self.emit(event)
        elif ev == "health":
            w.health = (HealthState(str(m.get("state"))), str(m.get("reason", "")))
            self._report_pool_health()
        elif ev == "result":
            fut = self._results.pop(int(m.get("seq") or 0), None)
            if fut is not None and not fut.done():
                fut.set_result(m)
        elif ev == "failed":
            log.error("sip desk worker %d could not start: %s", w.index, m.get("reason"))

    def _lost(self, w: DeskWorker) -> None:
        w.port = None
        calls, w.open_calls = w.open_calls, {}
        if self.router is not None:  # its lines are gone, the calls it never reported too
            self._send(self.router.worker_lost(w.index, time.monotonic()))
        for event in calls.values():
            self.emit(
                CallEnded(
                    call_id=event.call_id,
                    at=time.time(),
                    caller=event.caller,
                    caller_name=event.caller_name,
                    called=event.called,
                    desk=event.desk,
                    source=event.source,
                    evidence=event.evidence | {"sip_reason": "desk worker lost"},
                    answered=event.__class__.__name__ == "CallAnswered",
                    reason="worker lost",
                )
            )
        if not self.closing:
            self._report_pool_health()

    def _report_pool_health(self) -> None:
        up = sum(w.port is not None for w in self.workers)
        if up == len(self.workers):
            self.set_health(
                HealthState.UP,
                f"listening on udp {self.options.bind_address}:{self.local_port}; "
                f"{up} desk workers, {up * LINES} lines",
            )
            if self._ready is not None:
                self._ready.set()
        elif up:
            self.set_health(HealthState.DEGRADED, f"{up} of {len(self.workers)} desk workers up")
        else:
            self.set_health(HealthState.DOWN, "no desk worker is running")

    async def _stop_workers(self) -> None:
        async def stop(w: DeskWorker) -> None:
            proc = w.proc
            if proc is None or proc.stdin is None:
                return
            with contextlib.suppress(Exception):
                proc.stdin.write(encode({"op": "quit"}))
                proc.stdin.close()
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            if w.drained is not None:  # the worker's last events (calls ended at shutdown)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(w.drained.wait(), 2)

        await asyncio.gather(*(stop(w) for w in self.workers), return_exceptions=True)
        self._stopped = True
        self.set_health(HealthState.DOWN, "stopped")

    async def answer(self, call_id: str) -> None:
        if self._stopped or self.router is None:
            raise ChannelError("the SIP source is not running", channel=self.name, temporary=True)
        route = self.router.routes.get(call_id.encode()) if self.router is not None else None
        if route is None:
            raise NotFound("ringing call", call_id)
        proc = self.workers[route.worker].proc
        if proc is None or proc.stdin is None:
            raise ChannelError(
                "the desk worker holding this call is not running", channel=self.name, temporary=True
            )
        seq = next(self._seq)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._results[seq] = fut
        proc.stdin.write(encode({"op": "answer", "call_id": call_id, "seq": seq}))
        result = await asyncio.wait_for(fut, 10)
        if result.get("ok"):
            return
        text = str(result.get("text", ""))
        if result.get("error") == "NotFound":
            raise NotFound("ringing call", call_id)
        if result.get("error") == "Conflict":
            raise Conflict(text)
        raise ChannelError(text or "answer failed", channel=self.name, temporary=True)
