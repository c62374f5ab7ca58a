"""An Asterisk Manager Interface server that plays realistic call event sequences.

Written from the AMI documentation (docs.asterisk.org: "The Asterisk Manager TCP/IP API", the
Login, Ping, Filter, Logoff and CoreShowChannels actions, and the Newchannel, Newstate, DialBegin,
DialEnd, BridgeEnter, BlindTransfer, QueueCallerJoin, AgentCalled, AgentConnect and Hangup events
of Asterisk 16-22); it imports nothing of adapters.

- TCP, banner `Asterisk Call Manager/9.0.0`, `Login` checked against one user (Events mask
  honoured: `call`, `agent`, `on`, `off`), `Ping`, `Filter` (regex whitelist), `Logoff`,
  `CoreShowChannels` from the live channel table, `Error` for anything else.
- Call sequences: `answered`, `abandoned`, `transferred`, `queue_pickup`; or step by step with a
  `SimCall` (ring, answer, transfer, hang up; simulators/ami_calls.py), so a test can `drop()`
  connections between steps.
  Events while nobody is logged in are lost, as on a real Asterisk.
- Faults: `drop()` cuts every connection; `mute = True` keeps them open but answers nothing.
- `actions` records every action received, with the session number.

    async with AmiServer(username="callout", secret="s3cret") as ami:
        await ami.answered(caller="0412345678", desk="7007")
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import re
import sys
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from simulators.ami_calls import Fields, SimCall, SimChannel

__all__ = ["AmiServer", "SimCall", "SimChannel", "add_arguments", "main"]

VERSION = "9.0.0"  # the AMI protocol version of Asterisk 20
_AGENT_EVENTS = {"QueueCallerJoin", "QueueCallerLeave", "AgentCalled", "AgentConnect", "AgentComplete"}


def encode(fields: Fields) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n").encode()


@dataclass
class _Client:
    number: int
    writer: asyncio.StreamWriter
    logged_in: bool = False
    classes: set[str] = field(default_factory=lambda: {"call", "agent", "system"})
    filters: list[re.Pattern[str]] = field(default_factory=list)

    def wants(self, event: str, packet: str) -> bool:
        cls = "agent" if event in _AGENT_EVENTS else "system" if event == "FullyBooted" else "call"
        if not self.logged_in or cls not in self.classes:
            return False
        return not self.filters or any(f.search(packet) for f in self.filters)


class AmiServer:
    """The simulator. Every adapter-facing behaviour is in the module docstring."""

    def __init__(
        self,
        *,
        username: str = "callout",
        secret: str = "s3cret",  # noqa: S107 - the simulator's documented test user
        host: str = "127.0.0.1",
        port: int = 0,
        step: float = 0.0,  # seconds between two events of a sequence
        timestampevents: bool = False,
        echo: bool = False,
    ) -> None:
        self.username, self.secret = username, secret
        self.host, self.port = host, port
        self.step = step
        self.timestampevents = timestampevents
        self.echo = echo
        self.channels: dict[str, SimChannel] = {}
        self.actions: list[tuple[int, dict[str, str]]] = []
        self.logins = 0
        self.mute = False  # fault: keep connections open but answer no action (a hung Asterisk)
        self._clients: dict[int, _Client] = {}
        self._numbers = itertools.count(1)
        self._ids = itertools.count(1)
        self._epoch = int(time.time())
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        self._login_seen = asyncio.Event()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.close()
        await self.drop()  # every client's readline() now ends, and so does its task
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await asyncio.gather(*self._tasks, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await self._server.wait_closed()

    # ---- fault injection and inspection --------------------------------------------------------

    async def drop(self) -> None:
        """Cut every client connection at once (no Goodbye), like a network failure."""
        for client in list(self._clients.values()):
            client.logged_in = False
            client.writer.transport.abort()
        self._clients.clear()
        await asyncio.sleep(0)

    @property
    def connected(self) -> int:
        return sum(1 for c in self._clients.values() if c.logged_in)

    async def wait_logged_in(self, count: int = 1, within: float = 5.0) -> None:
        """Until `count` logins have happened in all and a client is logged in now."""
        async with asyncio.timeout(within):
            while self.logins < count or not self.connected:
                self._login_seen.clear()
                await self._login_seen.wait()

    def actions_named(self, name: str) -> list[tuple[int, dict[str, str]]]:
        return [(n, a) for n, a in self.actions if a.get("Action", "").lower() == name.lower()]

    # ---- call sequences ------------------------------------------------------------------------

    async def call(self, caller: str, *, name: str = "", did: str = "000") -> SimCall:
        return await SimCall(self, caller, name or f"Caller {caller}", did).arrive()

    async def answered(self, caller: str, desk: str, *, talk: float = 0.0, name: str = "") -> str:
        c = await self.call(caller, name=name)
        await c.ring(desk)
        await c.answer()
        await asyncio.sleep(talk)
        await c.hangup_caller()
        return c.linkedid

    async def abandoned(self, caller: str, desk: str, *, ring: float = 0.0, name: str = "") -> str:
        c = await self.call(caller, name=name)
        await c.ring(desk)
        await asyncio.sleep(ring)
        await c.hangup_caller()
        return c.linkedid

    async def transferred(self, caller: str, desk: str, to_desk: str, *, name: str = "") -> str:
        c = await self.call(caller, name=name)
        await c.ring(desk)
        await c.answer()
        await c.blind_transfer(to_desk)
        await c.hangup_caller()
        return c.linkedid

    async def queue_pickup(self, caller: str, member: str, *, queue: str = "dispatch", name: str = "") -> str:
        c = await self.call(caller, name=name)
        await c.queue(queue)
        await c.agent_connect(member)
        await c.hangup_caller()
        return c.linkedid

    # ---- internals -----------------------------------------------------------------------------

    def next_number(self) -> int:
        return next(self._numbers)

    def new_channel(self, name: str, number: str, caller_name: str, exten: str, context: str) -> SimChannel:
        uniqueid = f"{self._epoch}.{next(self._ids)}"
        ch = SimChannel(name, uniqueid, uniqueid, number, caller_name, exten, context)
        self.channels[uniqueid] = ch
        return ch

    async def emit(self, event: str, fields: Fields) -> None:
        packet_fields: Fields = [("Event", event), ("Privilege", "call,all")]
        if self.timestampevents:
            packet_fields.append(("Timestamp", f"{time.time():.6f}"))
        packet_fields += fields
        data = encode(packet_fields)
        text = data.decode()
        for client in list(self._clients.values()):
            if client.wants(event, text):
                client.writer.write(data)
        if self.echo:
            print(f"[ami] {event} {dict(fields).get('Channel', '')}", flush=True)
        await asyncio.sleep(self.step)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(next(self._numbers), writer)
        self._clients[client.number] = client
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            writer.write(f"Asterisk Call Manager/{VERSION}\r\n".encode())
            fields: dict[str, str] = {}
            while True:
                line = await reader.readline()
                if not line:
                    return
                text = line.decode(errors="replace").rstrip("\r\n")
                if text:
                    key, _, value = text.partition(":")
                    fields.setdefault(key.strip(), value.strip())
                    continue
                if fields and not await self._action(client, fields):
                    return
                fields = {}
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # a cancelled handler would make asyncio's start_server log a traceback
        finally:
            self._clients.pop(client.number, None)
            with contextlib.suppress(Exception):
                writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _action(self, client: _Client, a: dict[str, str]) -> bool:
        """Answer one action; False closes the connection."""
        self.actions.append((client.number, dict(a)))
        if self.mute:
            return True
        name = a.get("Action", "").lower()
        reply: Fields = [("ActionID", a["ActionID"])] if "ActionID" in a else []
        w = client.writer
        if name == "login":
            if a.get("Username") != self.username or a.get("Secret") != self.secret:
                w.write(encode([("Response", "Error"), *reply, ("Message", "Authentication failed")]))
                await w.drain()
                return False
            client.logged_in = True
            events = a.get("Events", "on").lower()
            if events == "off":
                client.classes = set()
            elif events not in ("on", "all"):
                client.classes = {e.strip() for e in events.split(",")}
            self.logins += 1
            self._login_seen.set()
            w.write(encode([("Response", "Success"), *reply, ("Message", "Authentication accepted")]))
            if "system" in client.classes:
                w.write(
                    encode(
                        [("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted")]
                    )
                )
            return True
        if not client.logged_in:
            w.write(encode([("Response", "Error"), *reply, ("Message", "Permission denied")]))
            return True
        if name == "ping":
            w.write(
                encode(
                    [("Response", "Success"), *reply, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")]
                )
            )
        elif name == "filter" and a.get("Operation", "Add").lower() == "add":
            try:
                client.filters.append(re.compile(a.get("Filter", "")))
            except re.error:
                w.write(encode([("Response", "Error"), *reply, ("Message", "Filter Not Added")]))
            else:
                w.write(encode([("Response", "Success"), *reply, ("Message", "Filter Added Successfully")]))
        elif name == "coreshowchannels":
            self._core_show_channels(w, reply)
        elif name == "logoff":
            w.write(encode([("Response", "Goodbye"), *reply, ("Message", "Thanks for all the fish.")]))
            await w.drain()
            return False
        else:
            w.write(encode([("Response", "Error"), *reply, ("Message", "Invalid/unknown command")]))
        await w.drain()
        return True

    def _core_show_channels(self, w: asyncio.StreamWriter, reply: Fields) -> None:
        w.write(
            encode(
                [("Response", "Success"), *reply, ("EventList", "start"), ("Message", "Channels will follow")]
            )
        )
        for ch in self.channels.values():
            secs = int(time.monotonic() - ch.created)
            w.write(
                encode(
                    [
                        ("Event", "CoreShowChannel"),
                        *reply,
                        *ch.fields(),
                        ("Application", ch.application),
                        ("ApplicationData", ch.data),
                        ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
                        ("BridgeId", ch.bridge),
                    ]
                )
            )
        w.write(
            encode(
                [
                    ("Event", "CoreShowChannelsComplete"),
                    *reply,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(self.channels))),
                ]
            )
        )


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `callout simulate ami`; `main(**options)` takes exactly these names."""
    p.add_argument("--port", type=int, default=5038, help="TCP port on 127.0.0.1 (0: any free port)")
    p.add_argument("--username", default="callout")
    p.add_argument("--secret", default="s3cret")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between sample calls")
    p.add_argument("--calls", type=int, default=0, help="stop after this many calls (0: never)")


async def main(*, port: int, username: str, secret: str, interval: float, calls: int) -> int:
    """`callout simulate ami`: serve AMI and play a random call every `interval` seconds."""
    rng = random.Random()
    async with AmiServer(username=username, secret=secret, port=port, step=0.2, echo=True) as ami:
        print(f"AMI simulator on 127.0.0.1:{ami.port} (user {username})", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            for n in itertools.count(1):
                if calls and n > calls:
                    break
                await asyncio.sleep(interval)
                caller = f"0412{rng.randrange(10**6):06d}"
                kind = rng.choice(["answered", "answered", "abandoned", "transferred", "queue_pickup"])
                print(f"[ami] call {n}: {kind} from {caller}", flush=True, file=sys.stdout)
                if kind == "answered":
                    await ami.answered(caller, "7007", talk=interval / 2)
                elif kind == "abandoned":
                    await ami.abandoned(caller, "7007", ring=interval / 4)
                elif kind == "transferred":
                    await ami.transferred(caller, "7007", "7008")
                else:
                    await ami.queue_pickup(caller, "7010")
    return 0
