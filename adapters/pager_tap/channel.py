"""I/O of the TAP channel: one worker task (a supervised child, adapters/base.py) owns the line and
runs TAP sessions (`session.TapSession`; the blocks are in `blocks.py`).

Pages queue up; the worker calls the terminal, logs on and sends every queued page in that one
session. Sends that arrive while the session is open join it; a session with nothing left to
send logs off after `linger` seconds. A page counts as sent when the terminal answers its last
block with ACK: the evidence is the terminal's message sequence (e.g. 211). Health follows the
logon: up when the terminal answers it, down (with the reason) when it is silent or refuses.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from adapters.base import Capabilities, Channel, HealthState, OutboundMessage, SendReceipt
from adapters.errors import ChannelError
from adapters.pager_tap import link
from adapters.pager_tap.blocks import TEMPORARY_REJECTIONS
from adapters.pager_tap.options import Options
from adapters.pager_tap.session import (
    Closed,
    CloseReason,
    Event,
    PageDone,
    PageOutcome,
    Ready,
    State,
    TapSession,
    Timers,
)

log = logging.getLogger(__name__)
# The terminal ended the session because of a session limit (Appendix A 112, 113): the page that
# met the limit was never judged, so it goes again in the next session.
_SESSION_LIMITS = ("112", "113")


@dataclass(eq=False)
class _Job:
    message: OutboundMessage
    future: asyncio.Future[SendReceipt]
    sessions: int = 0  # sessions that started sending it


class _Pump:
    """Moves bytes between a Link and a TapSession, honouring the session's deadline."""

    def __init__(self, line: link.Link, session: TapSession) -> None:
        self.line = line
        self.session = session
        self.closed: Closed | None = None
        self._events: deque[Event] = deque()
        self._loop = asyncio.get_running_loop()

    def now(self) -> float:
        return self._loop.time()

    async def next_event(self) -> Event:
        """The session's next event; a Closed one once the session is over."""
        while True:
            await self._flush()
            if self._events:
                return self._events.popleft()
            if self.closed is not None:
                return self.closed
            deadline = self.session.deadline
            try:
                async with asyncio.timeout_at(deadline):
                    data = await self.line.read()
            except TimeoutError:
                self.session.tick(self.now())
                self._collect()
                continue
            self._feed(data)

    async def idle(self, wake: asyncio.Event, seconds: float) -> None:
        """Between pages: wait for `wake` or the timeout, still listening to the line (the
        terminal may end the session on its own, e.g. 501 input timeout) for up to `seconds`."""
        await self._flush()
        reader = asyncio.ensure_future(self.line.read())
        waker = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({reader, waker}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            reader.cancel()
            waker.cancel()
            await asyncio.gather(reader, waker, return_exceptions=True)
        if not reader.cancelled():
            self._feed(reader.result())

    async def _flush(self) -> None:
        data = self.session.data_to_send()
        if data:
            try:
                await self.line.write(data)
            except link.LinkError:
                self.session.connection_lost()
                self._collect()

    def _feed(self, data: bytes) -> None:
        if data:
            self.session.receive_data(data, self.now())
        else:
            self.session.connection_lost()
        self._collect()

    def _collect(self) -> None:
        for ev in self.session.events():
            if isinstance(ev, Closed):
                self.closed = ev
            self._events.append(ev)


class TapChannel(Channel):
    kind = "tap"

    def __init__(self, *, name: str, options: Options) -> None:
        super().__init__(
            name=name,
            capabilities=Capabilities(
                max_length=options.max_length,
                max_parts=options.max_parts,
                confirms_delivery=False,
                two_way=False,
                broadcast=True,
            ),
        )
        self.options = options
        self.sessions = 0  # TAP sessions opened so far (tests and metrics read it)
        self._jobs: deque[_Job] = deque()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        o = options
        self._timers = Timers(
            wake_interval=o.wake_interval,
            wake_tries=o.wake_tries,
            response_timeout=o.response_timeout,
            logon_tries=o.logon_tries,
            block_retries=o.block_retries,
            logoff_timeout=o.logoff_timeout,
        )

    # ---- lifecycle (the skeleton in adapters/base.py) ----------------------------------------
    async def _open(self) -> None:
        if self.options.probe_on_start:
            self.set_health(HealthState.DEGRADED, "calling the paging terminal")
        else:
            self.set_health(HealthState.UP, "ready (not called yet)")
        self._worker = self.start_task("line", self._run)

    async def _close(self) -> None:
        self._wake.set()
        if self._worker is not None:
            # Let an open session log off; a hung line is cut after the grace period.
            o = self.options
            grace = o.logoff_timeout + 2.0
            if o.modem is not None:
                grace += o.modem.hangup_wait + 2 * o.modem.guard_time + 2 * o.modem.command_timeout
            await asyncio.wait({self._worker}, timeout=grace)
            self.stop_task("line")
            await asyncio.wait({self._worker})
        self._fail_queued("channel stopped", code="stopped")
        self.set_health(HealthState.DOWN, "stopped")

    # ---- the contract ---------------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendReceipt:
        if self._worker is None or self.closing:
            raise self.fail("channel not started", temporary=True, endpoint=message.address)
        problem = _address_problem(message.address)
        if problem:
            raise self.fail(problem, temporary=False, endpoint=message.address, code="address")
        job = _Job(message, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self._wake.set()
        return await job.future  # cancelling the send cancels the job if it has not gone out yet

    # ---- the worker -----------------------------------------------------------------------------
    async def _run(self) -> None:
        probe = self.options.probe_on_start
        while not self.closing:
            self._wake.clear()
            if probe or self._has_jobs():
                probe = False
                try:
                    await self._session()
                except Exception as exc:  # a bug must not kill the line: report it, stay alive
                    log.exception("tap %s: session failed", self.name)
                    self._down(f"internal error: {exc!r}")
                    self._fail_queued(f"internal error: {exc!r}", code="internal")
                continue
            if self.health.state is HealthState.DOWN:
                try:
                    async with asyncio.timeout(self.options.recheck_interval):
                        await self._wake.wait()
                except TimeoutError:
                    probe = True
            else:
                await self._wake.wait()

    async def _session(self) -> None:
        self.sessions += 1
        number = self.sessions
        o = self.options
        session = TapSession(
            password=o.password,
            logon_id=o.logon,
            timers=self._timers,
            hangup_lines=("NO CARRIER",) if o.modem is not None else (),
            transparency=o.transparency,
        )
        try:
            line = await link.open_link(o)
        except link.LinkError as exc:
            self._down(exc.reason)
            self._fail_queued(exc.reason, code=exc.code)
            return
        pump: _Pump | None = None
        try:
            first = await link.dial(line, o.modem) if o.modem is not None else b""
            pump = _Pump(line, session)  # from here on, the modem (if any) is online
            session.start(pump.now())
            if first:
                session.receive_data(first, pump.now())
            if await self._logon(pump):
                await self._serve(pump, number)
        except link.LinkError as exc:
            self._down(exc.reason)
            self._fail_queued(exc.reason, code=exc.code)
        finally:
            if o.modem is not None and pump is not None:  # after a failed dial there is no call
                await link.hang_up(line, o.modem, carrier_lost=session.carrier_lost)
            await line.close()
        log.info("tap %s: session %d closed: %s", self.name, number, pump.closed if pump else "not started")

    async def _logon(self, pump: _Pump) -> bool:
        ev = await pump.next_event()
        if isinstance(ev, Ready):
            banner = "; ".join(str(r) for r in ev.responses)
            self.set_health(HealthState.UP, f"logged on{': ' + banner if banner else ''}")
            return True
        assert isinstance(ev, Closed)
        codes = "; ".join(str(r) for r in ev.responses)
        what = {
            CloseReason.SILENT: "terminal silent",
            CloseReason.REFUSED: "logon refused",
            CloseReason.LINE_DROPPED: "line dropped during logon",
        }.get(ev.reason, f"logon failed ({ev.reason})")
        reason = f"{what}: {ev.detail}{' (' + codes + ')' if codes else ''}"
        self._down(reason)
        code = ev.responses[-1].code if ev.responses else ev.reason.value
        self._fail_queued(reason, code=code)
        return False

    async def _serve(self, pump: _Pump, number: int) -> None:
        """Steps 8-12: every queued page, then logoff once idle for `linger` seconds."""
        pages = 0
        limit = self.options.max_pages_per_session
        while pump.closed is None and not (limit and pages >= limit):
            job = await self._next_job(pump)
            if job is None:
                break
            pages += 1
            await self._page(pump, job, number)
        if pump.closed is None and pump.session.state is State.READY:
            pump.session.logoff(pump.now())
        while pump.closed is None:  # logging off (ours, or after a block was NAKed N2 times)
            await pump.next_event()
        closed = pump.closed
        assert closed is not None
        if closed.reason is CloseReason.SILENT:
            reason = f"terminal silent: {closed.detail}"
            self._down(reason)
            self._fail_queued(reason, code="silent")
        elif closed.reason is CloseReason.LINE_DROPPED:
            self.set_health(HealthState.DEGRADED, f"line dropped: {closed.detail}")
        elif closed.reason is CloseReason.GAVE_UP:
            self.set_health(HealthState.DEGRADED, "line noise: a block was NAKed on every resend")

    async def _next_job(self, pump: _Pump) -> _Job | None:
        deadline = pump.now() + self.options.linger
        while True:
            while self._jobs:
                job = self._jobs.popleft()
                if not job.future.done():
                    return job
            remaining = deadline - pump.now()
            if self.closing or pump.closed is not None or remaining <= 0:
                return None
            self._wake.clear()
            if not self._jobs:
                await pump.idle(self._wake, remaining)

    async def _page(self, pump: _Pump, job: _Job, number: int) -> None:
        msg = job.message
        job.sessions += 1
        blocks = resends = 0
        done: PageDone | None = None
        for part in msg.parts:
            ref = pump.session.submit((msg.address, part), pump.now())
            done = await self._verdict(pump, ref)
            blocks += done.blocks
            resends += done.resends
            if done.outcome is not PageOutcome.ACCEPTED:
                break
        assert done is not None
        last = done.last
        evidence: dict[str, Any] = {
            "tap_code": last.code if last else None,
            "tap_text": last.text if last else "",
            "tap_session": number,
            "tap_blocks": blocks,
            "tap_resends": resends,
        }
        if last is not None and last.max_length is not None:
            evidence["tap_max_length"] = last.max_length
        if done.outcome is PageOutcome.ACCEPTED:
            _settle(job, result=SendReceipt(channel_ref=None, evidence=evidence))
            return
        if done.outcome is PageOutcome.REJECTED:
            code = last.code if last else "RS"
            temporary = code in TEMPORARY_REJECTIONS
            what = f"page rejected: {last}" if last else "page rejected (RS)"
            _settle(job, error=self._error(what, temporary=temporary, msg=msg, code=code, ev=evidence))
            return
        if last is not None and last.code in _SESSION_LIMITS and job.sessions < 2 and blocks <= 1:
            self._jobs.appendleft(job)  # the terminal's session limit: again in a fresh session
            return
        code = last.code if last else (pump.closed.reason.value if pump.closed else "failed")
        what = f"page not taken: {done.reason}{' (' + str(last) + ')' if last else ''}"
        _settle(job, error=self._error(what, temporary=True, msg=msg, code=code, ev=evidence))

    @staticmethod
    async def _verdict(pump: _Pump, ref: int) -> PageDone:
        while True:
            ev = await pump.next_event()
            if isinstance(ev, PageDone) and ev.ref == ref:
                return ev
            if isinstance(ev, Closed):  # closed without a verdict: cannot happen, but be safe
                return PageDone(ref, PageOutcome.FAILED, ev.responses, ev.detail, 0, 0)

    # ---- helpers --------------------------------------------------------------------------------
    def _error(
        self, reason: str, *, temporary: bool, msg: OutboundMessage, code: str, ev: dict[str, Any]
    ) -> ChannelError:
        return self.fail(reason, temporary=temporary, endpoint=msg.address, code=code, **ev)

    def _has_jobs(self) -> bool:
        return any(not j.future.done() for j in self._jobs)

    def _down(self, reason: str) -> None:
        log.warning("tap %s: down: %s", self.name, reason)
        self.set_health(HealthState.DOWN, reason)

    def _fail_queued(self, reason: str, *, code: str) -> None:
        while self._jobs:
            job = self._jobs.popleft()
            _settle(
                job,
                error=self.fail(reason, temporary=True, endpoint=job.message.address, code=code),
            )


def _settle(job: _Job, *, result: SendReceipt | None = None, error: ChannelError | None = None) -> None:
    if job.future.done():  # the sender gave up (engine send timeout): nobody is listening
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(result if result is not None else SendReceipt())


def _address_problem(address: str) -> str:
    """A pager ID is field 1 of a transaction: printable 7-bit ASCII, no spaces (§3)."""
    if not address or len(address) > 32:
        return "pager ID must be 1 to 32 characters"
    if not all(0x21 <= ord(c) < 0x7F for c in address):
        return "pager ID must be printable ASCII without spaces"
    return ""


def build(name: str, options: dict[str, Any], max_length: int | None = None) -> Channel:
    opts = Options(**options)
    if max_length is not None:
        opts = opts.model_copy(update={"max_length": max_length})
    return TapChannel(name=name, options=opts)
