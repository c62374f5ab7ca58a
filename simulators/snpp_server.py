"""An SNPP server (RFC 1861, level 2) for tests and demos, written from the RFC; imports nothing
from `adapters`.

Semantics (RFC 1861 §4): commands are matched on their first 4 letters, case-insensitively
("PAGEr", "page", "PAGE" are one command). PAGE may be repeated to add recipients; option
commands (LEVEl, ALERt, COVErage, HOLDuntil, CALLerid) apply to the next PAGE only. One MESS
*or* DATA per transaction (else 503). SEND needs a recipient and a message (else 503), accepts
the page (250) and starts a new transaction on the same connection. QUIT answers 221 and closes.

Fault injection: an idle timeout (421 "Timeout, Goodbye" and close, §4.8), random 421s, replies
injected per command (e.g. {"SEND": [421]}: the next SEND is answered 421 and the connection
closed; code 0: the connection is closed without a word, as by a server that crashes), 550 for
listed pager IDs, 554 (technical failure) on SEND for listed IDs, 552 beyond `max_recipients`.

    async with SnppServer(echo=True) as srv:
        ...  # a client connects to srv.port; srv.pages lists (pager id, text) accepted
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

OPTIONS = ("LEVE", "ALER", "COVE", "HOLD", "CALL")
_Say = Callable[[str], Awaitable[None]]
_LineIn = Callable[[], Awaitable[str]]


@dataclass(frozen=True)
class SnppPage:
    pager_id: str
    text: str
    level: int  # service level (LEVEl), 1 unless set
    connection: int
    subject: str = ""


@dataclass
class _Transaction:
    recipients: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)  # for the next PAGE
    message: str | None = None
    subject: str = ""

    def reset(self) -> None:
        self.recipients, self.options, self.message, self.subject = [], {}, None, ""


class _Closed(Exception):
    pass


@dataclass
class SnppServer:
    port: int = 0  # 0: any free port
    host: str = "127.0.0.1"
    greeting: str = "220 callout SNPP simulator (RFC 1861 level 2) ready"
    idle_timeout: float = 60.0  # 421 after this long without a command
    random_421: float = 0.0  # probability that any command is answered 421 (then close)
    inject: dict[str, list[int]] = field(default_factory=dict)  # keyword → next reply codes
    invalid_ids: set[str] = field(default_factory=set)  # 550 on PAGE
    technical_ids: set[str] = field(default_factory=set)  # 554 on SEND
    max_recipients: int = 0  # 0: no limit; else 552
    login_password: str = ""  # "" accepts any LOGIn
    queued: bool = False  # SEND answers "250 Message Queued" (as hfaxd does)
    echo: bool = False
    seed: int | None = None
    pages: list[SnppPage] = field(default_factory=list)
    connections: int = 0
    transcript: list[str] = field(default_factory=list)  # every line received (DATA input too)

    async def __aenter__(self) -> Self:
        self._rng = random.Random(self.seed)
        self._tasks: set[asyncio.Task[None]] = set()
        self._server = await asyncio.start_server(self._on_client, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.connections += 1
        number = self.connections
        try:
            await self._session(reader, writer, number)
        except (_Closed, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()
            if task is not None:
                self._tasks.discard(task)

    # ---- one connection -----------------------------------------------------------------------
    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()
            if line[:1] == "4":  # §4.2: 4xx, and the server closes the connection
                raise _Closed

        async def line_in() -> str:
            raw = b""
            try:
                async with asyncio.timeout(self.idle_timeout):
                    raw = await reader.readline()
            except TimeoutError:
                await say("421 Timeout, Goodbye")  # raises _Closed
            if not raw:
                raise _Closed
            return raw.decode("latin-1").rstrip("\r\n")

        await say(self.greeting)
        tx = _Transaction()
        while True:
            line = await line_in()
            self.transcript.append(line)
            keyword, _, arg = line.strip().partition(" ")
            key = keyword[:4].upper()
            arg = arg.strip()
            injected = self.inject.get(key)
            if injected:
                code = injected.pop(0)
                if code == 0:
                    raise _Closed  # the server goes away mid-transaction: no reply at all
                await say(f"{code} {'Service not available, closing' if code // 100 == 4 else 'Injected'}")
                continue
            if self.random_421 and self._rng.random() < self.random_421:
                await say("421 Service not available, closing connection")
            if key == "DATA":
                await self._data(tx, say, line_in)
                continue
            for reply in self._command(key, arg, tx, number).split("\n"):
                await say(reply)
            if key == "QUIT":
                raise _Closed

    def _command(self, key: str, arg: str, tx: _Transaction, number: int) -> str:
        if key == "PAGE":
            pid = arg.split(" ", 1)[0] if arg else ""
            if not pid:
                return "550 Error, Invalid Pager ID"
            if self.max_recipients and len(tx.recipients) >= self.max_recipients:
                return "552 Maximum Entries Exceeded"
            if pid in self.invalid_ids:
                tx.options = {}
                return "550 Error, Invalid Pager ID"
            tx.recipients.append((pid, tx.options))
            tx.options = {}
            return "250 Pager ID Accepted"
        if key == "MESS":
            if tx.message is not None:
                return "503 ERROR, Message Already Entered"
            if not arg:
                return "550 ERROR, Invalid Message"
            tx.message = arg
            return "250 Message OK"
        if key in OPTIONS:
            if key == "LEVE" and not (arg.isdigit() and 0 <= int(arg) <= 11):
                return "550 Error, Invalid Level"
            tx.options[key] = arg
            return {
                "LEVE": "250 OK, Alternate Service Level Accepted",
                "COVE": "250 Alternate Coverage Selected",
                "HOLD": "250 Delayed Messaging Selected",
                "CALL": "250 Caller ID Accepted",
            }.get(key, "250 OK")
        if key == "SUBJ":
            tx.subject = arg
            return "250 Message Subject Accepted"
        if key == "LOGI":
            user, _, password = arg.partition(" ")
            if not user or (self.login_password and password.strip() != self.login_password):
                return "550 Error, Invalid Login"
            return "250 Login Accepted"
        if key == "RESE":
            tx.reset()
            return "250 RESET OK"
        if key == "SEND":
            return self._send(tx, number)
        if key == "QUIT":
            return "221 OK, Goodbye"
        if key == "HELP":
            return (
                "214 PAGE MESS DATA SEND RESE QUIT HELP LOGI LEVE ALER COVE HOLD CALL SUBJ\n250 End of Help"
            )
        return "500 Command Not Implemented"

    def _send(self, tx: _Transaction, number: int) -> str:
        if not tx.recipients or tx.message is None:
            return "503 Error, Pager ID or Message Incomplete"
        if any(pid in self.technical_ids for pid, _ in tx.recipients):
            tx.reset()
            return "554 Error, failed (technical reason)"
        for pid, opts in tx.recipients:
            page = SnppPage(pid, tx.message, int(opts.get("LEVE", "1")), number, tx.subject)
            self.pages.append(page)
            if self.echo:
                print(f"[snpp] page for {pid}: {tx.message!r} (level {page.level})", flush=True)
        tx.reset()
        return "250 Message Queued" if self.queued else "250 Message Sent Successfully"

    async def _data(self, tx: _Transaction, say: _Say, line_in: _LineIn) -> None:
        if tx.message is not None:
            await say("503 ERROR, Message Already Entered")
            return
        await say("354 Begin Input; End with <CRLF>'.'<CRLF>")
        lines: list[str] = []
        while (ln := await line_in()) != ".":
            self.transcript.append(ln)
            lines.append(ln[1:] if ln.startswith("..") else ln)
        if not lines or not any(lines):
            await say("550 ERROR, Invalid Message")
            return
        tx.message = "\n".join(lines)
        await say("250 Message OK")


# ---- command line ------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `callout simulate snpp`."""
    p.add_argument("--port", type=int, default=444, help="TCP port (RFC 1861: 444; 0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="listen address")
    p.add_argument("--idle-timeout", type=float, default=60.0, help="seconds before 421 Timeout")
    p.add_argument("--random-421", type=float, default=0.0, help="probability of a 421 on any command")
    p.add_argument("--invalid", action="append", default=[], metavar="PIN", help="answer 550 for this ID")
    p.add_argument("--technical", action="append", default=[], metavar="PIN", help="554 on SEND for this ID")
    p.add_argument("--max-recipients", type=int, default=0, help="552 beyond this many PAGEs (0: no limit)")
    p.add_argument("--queued", action="store_true", help='SEND answers "250 Message Queued"')


async def main(
    *,
    port: int = 444,
    host: str = "127.0.0.1",
    idle_timeout: float = 60.0,
    random_421: float = 0.0,
    invalid: Sequence[str] = (),
    technical: Sequence[str] = (),
    max_recipients: int = 0,
    queued: bool = False,
) -> int:
    server = SnppServer(
        port=port,
        host=host,
        idle_timeout=idle_timeout,
        random_421=random_421,
        invalid_ids=set(invalid),
        technical_ids=set(technical),
        max_recipients=max_recipients,
        queued=queued,
        echo=True,
    )
    async with server:
        print(f"snpp: RFC 1861 server on {host}:{server.port}", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
    return 0


async def run(args: argparse.Namespace) -> int:
    """`main` from parsed `add_arguments` options."""
    return await main(
        port=args.port,
        host=args.host,
        idle_timeout=args.idle_timeout,
        random_421=args.random_421,
        invalid=args.invalid,
        technical=args.technical,
        max_recipients=args.max_recipients,
        queued=args.queued,
    )
