"""The pool of pjsua2 worker processes (adapters/voice/worker.py), supervised by the channel.

Each worker is one process with its own pjsua2 Endpoint and at most four calls (the wheel's
PJSUA_MAX_CALLS). `WorkerProcess.run()` is the body of one supervised task of the channel
(`Component.start_task`): it starts the process, hands it its config, reads its events, and when
the process dies (a crash, `kill -9`) it fails the calls it held that were not answered yet
(temporary: the engine retries them), then starts a new process after `restart_delay`. An
answered call whose worker died is already `sent`; its ack deadline moves the ladder on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.voice.codec import LineDecoder, WorkerProtocolError, encode

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CallTicket:
    """One call in flight, from `place` until it ends."""

    ref: str
    address: str
    message_id: str
    answered: asyncio.Future[dict[str, Any]]
    ended: asyncio.Future[dict[str, Any]]
    call_id: str = ""
    answered_at: float | None = None
    digits: list[str] = field(default_factory=list)


class WorkerDied(Exception):
    pass


class WorkerProcess:
    """One worker: its process, its calls, and the loop that keeps a process running."""

    def __init__(
        self,
        index: int,
        *,
        config: dict[str, Any],
        capacity: int,
        restart_delay: float,
        on_event: Callable[[WorkerProcess, CallTicket, dict[str, Any]], None],
        on_change: Callable[[], None],
    ) -> None:
        self.index = index
        self.config = config
        self.capacity = capacity
        self.restart_delay = restart_delay
        self._on_event = on_event
        self._on_change = on_change
        self.proc: asyncio.subprocess.Process | None = None
        self.ready = False
        self.local = ""
        self.calls: dict[str, CallTicket] = {}
        self.starts = 0
        self.garbled = 0
        self.exit_codes: list[int] = []  # of each process, in order (a crash shows here)

    @property
    def free(self) -> int:
        return self.capacity - len(self.calls) if self.ready else 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def run(self) -> None:
        """Keep one worker process running until cancelled."""
        while True:
            try:
                await self._one_process()
            finally:
                self._lost("the voice worker process ended")
            await asyncio.sleep(self.restart_delay)

    async def _one_process(self) -> None:
        self.starts += 1
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adapters.voice.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
        )
        self.proc = proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(encode({"op": "config", **self.config}))
            await proc.stdin.drain()
            decoder = LineDecoder()
            while True:
                data = await proc.stdout.read(65536)
                if not data:
                    code = await proc.wait()
                    self.exit_codes.append(code)
                    log.log(
                        logging.INFO if code == 0 else logging.WARNING,
                        "voice worker %d (pid %d) exited with %s",
                        self.index,
                        proc.pid,
                        code,
                    )
                    return
                try:
                    messages = decoder.feed(data)
                except WorkerProtocolError as exc:  # logged, counted; the next line still counts
                    self.garbled += 1
                    log.warning("voice worker %d: %s", self.index, exc)
                    continue
                for message in messages:
                    self._handle(message)
        finally:
            self.proc = None
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(Exception):
                    await asyncio.shield(proc.wait())

    def _handle(self, message: dict[str, Any]) -> None:
        ev = message.get("ev")
        if ev == "ready":
            self.ready, self.local = True, str(message.get("local", ""))
            log.info("voice worker %d ready on %s (pid %s)", self.index, self.local, message.get("pid"))
            self._on_change()
            return
        if ev == "failed":
            log.error("voice worker %d could not start pjsua2: %s", self.index, message.get("reason"))
            return
        ticket = self.calls.get(str(message.get("ref")))
        if ticket is None:
            return
        if ev == "ended":
            self.calls.pop(ticket.ref, None)
            self._on_change()
        self._on_event(self, ticket, message)

    def _lost(self, reason: str) -> None:
        self.ready = False
        calls, self.calls = self.calls, {}
        for ticket in calls.values():
            self._on_event(self, ticket, {"ev": "lost", "ref": ticket.ref, "reason": reason})
        self._on_change()

    def place(self, ticket: CallTicket, command: dict[str, Any]) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None or not self.ready:
            raise WorkerDied(f"voice worker {self.index} is not running")
        self.calls[ticket.ref] = ticket
        proc.stdin.write(encode({"op": "call", "ref": ticket.ref, **command}))

    def hangup(self, ref: str) -> None:
        proc = self.proc
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.write(encode({"op": "hangup", "ref": ref}))

    async def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(Exception):
            assert proc.stdin is not None
            proc.stdin.write(encode({"op": "quit"}))
            proc.stdin.close()
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), 3.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
