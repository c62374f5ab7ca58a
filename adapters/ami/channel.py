"""I/O of the AMI CTI source: one TCP session at a time to Asterisk, rebuilt after any failure.

A session: connect, read the banner, `Login`, `Filter` (optional), `CoreShowChannels` to resync
the call tracker, then a reader and a keepalive (`Ping`) run as named tasks in one session-scoped
TaskGroup until the link fails. Then health goes down, the supervisor waits the next back-off
delay (a pure generator, reset after every successful login) and starts over. The supervisor is
the source's one supervised child (`Component.start_task`): its own back-off handles every link
failure, the skeleton's restart is only the safety net for a crash of the supervisor itself.
Responses are matched to actions by ActionID; events go through the pure `CallTracker` and come
out as CtiEvents.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from adapters.ami import codec
from adapters.ami.options import Options
from adapters.ami.tracker import EVENTS, CallTracker
from adapters.backoff import reconnect_delays
from adapters.base import HealthState
from adapters.cti import CtiSource
from adapters.errors import CalloutError

log = logging.getLogger(__name__)
_WANTED = {e.lower() for e in EVENTS}


class SessionFailed(CalloutError):
    """Why one AMI session ended (never escapes the source: the supervisor reconnects)."""


class LoginRefused(SessionFailed):
    pass


class _Session:
    """One TCP connection: writes actions, matches responses and list events by ActionID."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn_id: str) -> None:
        self.reader = reader
        self.writer = writer
        self.conn_id = conn_id
        self.banner: asyncio.Future[codec.Banner] = asyncio.get_running_loop().create_future()
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[codec.Message]] = {}
        self._names: dict[str, str] = {}  # ActionID -> action name
        self._lists: dict[str, tuple[list[codec.Message], asyncio.Future[None]]] = {}
        # "Login refused: Authentication failed": Asterisk closes right after that response, and
        # the close may be seen before the waiting Login resumes; the reason must not be lost.
        self.last_error: str | None = None

    async def request(self, name: str, within: float, **fields: str) -> codec.Message:
        action_id = f"{self.conn_id}-{next(self._ids)}"
        fut: asyncio.Future[codec.Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = fut
        self._names[action_id] = name
        try:
            self.writer.write(codec.action(name, action_id, **fields))
            await self.writer.drain()
            async with asyncio.timeout(within):
                return await fut
        except TimeoutError as exc:
            raise SessionFailed(f"no response to {name} within {within:g} s") from exc
        finally:
            self._pending.pop(action_id, None)
            self._names.pop(action_id, None)

    async def request_list(self, name: str, within: float, **fields: str) -> list[codec.Message]:
        """A list action: Response Success, events with our ActionID, then `…Complete`."""
        action_id = f"{self.conn_id}-{next(self._ids)}"
        items: list[codec.Message] = []
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._lists[action_id] = (items, done)
        fut: asyncio.Future[codec.Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = fut
        try:
            self.writer.write(codec.action(name, action_id, **fields))
            await self.writer.drain()
            async with asyncio.timeout(within):
                response = await fut
                if (response.name or "").lower() != "success":
                    raise SessionFailed(f"{name} refused: {response.get('Message') or response.name}")
                await done
            return items
        except TimeoutError as exc:
            raise SessionFailed(f"{name} list not complete within {within:g} s") from exc
        finally:
            self._pending.pop(action_id, None)
            self._lists.pop(action_id, None)

    def route(self, msg: codec.Message) -> bool:
        """Deliver a response or a list event to its waiter; False if it is a plain event."""
        action_id = msg.action_id
        if action_id is None:
            return False
        if msg.kind == "response":
            if (msg.name or "").lower() == "error" and self._names.get(action_id) == "Login":
                self.last_error = f"Login refused: {msg.get('Message') or 'Error'}"
            fut = self._pending.get(action_id)
            if fut is not None and not fut.done():
                fut.set_result(msg)
            return True
        listed = self._lists.get(action_id)
        if msg.kind == "event" and listed is not None:
            items, done = listed
            if (msg.get("EventList") or "").lower() == "complete" or msg.name.endswith("Complete"):
                if not done.done():
                    done.set_result(None)
            else:
                items.append(msg)
            return True
        return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.write(codec.action("Logoff", f"{self.conn_id}-bye"))
        self.writer.close()


class AmiSource(CtiSource):
    """Asterisk as the CTI source: pickups are DialEnd(ANSWER) or AgentConnect, by Linkedid."""

    kind = "ami"

    def __init__(
        self,
        *,
        name: str,
        options: Options,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(name=name)
        self.options = options
        self._clock = clock
        self._rng = rng or random.Random()
        self.tracker = CallTracker(source=name, clock=clock)
        self.logins = 0  # successful logins so far (a reconnect adds one)
        self._supervisor: asyncio.Task[None] | None = None

    async def _open(self) -> None:
        self._first_attempt = asyncio.Event()
        self._logged_in = asyncio.Event()
        self.set_health(HealthState.DOWN, "connecting")
        self._supervisor = self.start_task("supervisor", self._supervise)
        # Wait for the first attempt, so a reachable Asterisk is up on return. An unreachable
        # one is not an error here: health says down and the supervisor keeps trying.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.options.connect_timeout * 3):
                await self._first_attempt.wait()

    async def _close(self) -> None:
        # Stop the supervisor here, not in the skeleton's clean-up, so that its last words (the
        # session's Logoff, a "reconnecting" health) come before the final "stopped".
        task, self._supervisor = self._supervisor, None
        if task is not None:
            self.stop_task("supervisor")
            await asyncio.wait([task])
        self.set_health(HealthState.DOWN, "stopped")

    async def wait_logged_in(self) -> None:
        """Until the current session has logged in and resynced (tests, the daemon's health)."""
        await self._logged_in.wait()

    # ---- supervision ---------------------------------------------------------------------------

    def _delays(self) -> Iterator[float]:
        o = self.options
        return reconnect_delays(
            first=o.reconnect_initial,
            factor=o.reconnect_factor,
            cap=o.reconnect_max,
            jitter=o.reconnect_jitter,
            rng=self._rng,
        )

    async def _supervise(self) -> None:
        delays = self._delays()
        for attempt in itertools.count(1):
            logins_before = self.logins
            conn_id = f"{self.name}#{attempt}"
            try:
                await self._session(conn_id)
                reason = "session ended"
            except Exception as exc:  # every failure means: reconnect
                reason = _why(exc)
            finally:
                self._logged_in.clear()
                self._first_attempt.set()
            if self.logins > logins_before:
                delays = self._delays()  # it worked for a while: start the back-off again
            delay = next(delays)
            self.set_health(HealthState.DOWN, f"{reason}; reconnecting in {delay:.1f} s")
            log.warning("ami %s: %s; reconnecting in %.1f s", conn_id, reason, delay)
            await asyncio.sleep(delay)

    async def _session(self, conn_id: str) -> None:
        o = self.options
        try:
            async with asyncio.timeout(o.connect_timeout):
                reader, writer = await asyncio.open_connection(o.host, o.port)
        except TimeoutError as exc:
            raise SessionFailed(f"connect to {o.host}:{o.port} timed out") from exc
        session = _Session(reader, writer, conn_id)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._read(session), name=f"ami.{conn_id}.reader")
                await self._handshake(session)
                tg.create_task(self._keepalive(session), name=f"ami.{conn_id}.keepalive")
        finally:
            session.close()

    async def _handshake(self, session: _Session) -> None:
        o = self.options
        try:
            async with asyncio.timeout(o.connect_timeout):
                banner = await session.banner
        except TimeoutError as exc:
            raise SessionFailed("no AMI banner") from exc
        reply = await session.request(
            "Login",
            o.connect_timeout,
            Username=o.username,
            Secret=o.secret.get_secret_value(),
            Events=o.events,
        )
        if (reply.name or "").lower() != "success":
            raise LoginRefused(f"Login refused: {reply.get('Message') or reply.name}")
        if o.server_filter:
            reply = await session.request(
                "Filter", o.connect_timeout, Operation="Add", Filter=f"Event: ({'|'.join(EVENTS)})"
            )
            if (reply.name or "").lower() != "success":
                log.info("ami %s: server-side filter refused; filtering here", session.conn_id)
        channels = await session.request_list("CoreShowChannels", o.connect_timeout * 2)
        for event in self.tracker.resync(channels):
            self.emit(event)
        self.logins += 1
        self._logged_in.set()
        self._first_attempt.set()
        self.set_health(HealthState.UP, f"logged in to {banner.text} at {o.host}:{o.port}")
        log.info("ami %s: logged in, %d channels resynced", session.conn_id, len(channels))

    async def _read(self, session: _Session) -> None:
        parser = codec.Parser()
        while True:
            data = await session.reader.read(65536)
            if not data:
                raise SessionFailed(session.last_error or "Asterisk closed the connection")
            for item in parser.feed(data):  # ProtocolError ends the session cleanly
                if isinstance(item, codec.Banner):
                    if item.version is None:
                        raise codec.ProtocolError("not an AMI banner", data=item.text)
                    if not session.banner.done():
                        session.banner.set_result(item)
                elif not session.route(item) and item.kind == "event":
                    self._on_event(item)

    def _on_event(self, msg: codec.Message) -> None:
        if msg.name.lower() == "shutdown":
            log.warning("ami: Asterisk is shutting down (%s)", msg.get("Shutdown"))
        if msg.name.lower() not in _WANTED:  # the client-side event filter
            return
        for event in self.tracker.feed(msg):
            self.emit(event)

    async def _keepalive(self, session: _Session) -> None:
        while True:
            await asyncio.sleep(self.options.ping_interval)
            await session.request("Ping", self.options.ping_timeout)


def _why(exc: BaseException) -> str:
    """The first real cause inside a TaskGroup's ExceptionGroup, as one line."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, SessionFailed | codec.ProtocolError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def build(name: str, options: dict[str, Any]) -> CtiSource:
    """Factory for the core."""
    return AmiSource(name=name, options=Options(**options))
