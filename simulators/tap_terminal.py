"""A TAP 1.8 paging terminal on a pseudo-terminal and/or a TCP port ("TAP over IP"), optionally
behind a simulated Hayes modem, pacing its bytes at a configured baud rate.

The protocol lives in simulators/tap_terminal_central.py; this module is the I/O: the pty (the
simulator holds the slave open so the line survives clients coming and going; `--pty-link` makes
a stable symlink to it), the TCP server, and the line-rate pacing that makes a 1200-baud line take
as long as a real one (10 bits per character: start, 7 data, parity, stop). Written from the
specification; imports nothing from `adapters`.

    async with TapTerminal(pty_link="/tmp/ttyTAP", baud=1200, echo=True) as term:
        ...  # a TAP client opens /tmp/ttyTAP; term.pages lists what was accepted
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from simulators.pty import RawPty
from simulators.tap_terminal_central import (
    Central,
    Faults,
    Hangup,
    Line,
    Modem,
    Page,
    SessionLog,
    TerminalConfig,
)

__all__ = ["Faults", "Page", "SessionLog", "TapTerminal", "TerminalConfig", "add_arguments", "main", "run"]


class _Port(Protocol):
    async def read(self) -> bytes: ...

    async def write(self, data: bytes) -> None: ...


class _LineLike(Protocol):
    ended: Hangup | None

    @property
    def deadline(self) -> float | None: ...

    def feed(self, data: bytes, now: float) -> None: ...

    def tick(self, now: float) -> None: ...

    def take_output(self) -> list[bytes]: ...


class _Pty:
    """The master side of a pseudo-terminal. The slave stays open here, in raw mode."""

    def __init__(self, link: Path | None) -> None:
        self._pty = RawPty(link)
        self.master = self._pty.master
        self.path = self._pty.path
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._loop.remove_reader(self.master)
        self._queue.put_nowait(data)

    async def read(self) -> bytes:
        return await self._queue.get()

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        waited = 0.0
        while view:
            try:
                view = view[os.write(self.master, view) :]
            except BlockingIOError:  # nobody reads the slave and its buffer is full
                if waited > 2.0:
                    return
                await asyncio.sleep(0.01)
                waited += 0.01

    def close(self) -> None:
        self._loop.remove_reader(self.master)
        self._pty.close()


class _Stream:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self) -> bytes:
        try:
            return await self._reader.read(4096)
        except OSError:
            return b""

    async def write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self._writer.write(data)
            await self._writer.drain()


class _Pacer:
    """Holds each direction of the line to `baud` / 10 characters per second."""

    def __init__(self, baud: int | None) -> None:
        self.char_time = 10.0 / baud if baud else 0.0
        self._rx_free = 0.0
        self._tx_free = 0.0

    async def received(self, n: int) -> None:
        """Wait until the last of `n` characters that started arriving now has fully arrived."""
        if self.char_time:
            now = asyncio.get_running_loop().time()
            self._rx_free = max(self._rx_free, now) + n * self.char_time
            await asyncio.sleep(self._rx_free - now)

    async def transmit(self, n: int) -> None:
        if self.char_time:
            now = asyncio.get_running_loop().time()
            self._tx_free = max(self._tx_free, now) + n * self.char_time
            await asyncio.sleep(self._tx_free - now)


@dataclass
class TapTerminal:
    pty: bool = True
    pty_link: str | Path | None = None
    tcp_port: int | None = None  # None: no TCP listener; 0: any free port
    host: str = "127.0.0.1"
    baud: int | None = None  # None: no pacing
    modem: bool = False
    connect_delay: float = 0.2
    dial_result: str = "CONNECT"  # or BUSY, NO CARRIER, NO ANSWER, NO DIALTONE
    guard_time: float = 1.0
    config: TerminalConfig = field(default_factory=TerminalConfig)
    faults: Faults = field(default_factory=Faults)
    echo: bool = False
    seed: int | None = None
    pages: list[Page] = field(default_factory=list)
    sessions: list[SessionLog] = field(default_factory=list)
    rx_bytes: int = 0
    tx_bytes: int = 0

    async def __aenter__(self) -> Self:
        self._rng = random.Random(self.seed)
        self._tasks: set[asyncio.Task[None]] = set()
        self._pty: _Pty | None = None
        self._server: asyncio.Server | None = None
        self.dialled: list[str] = []
        link = Path(self.pty_link) if self.pty_link is not None else None
        if self.pty:
            self._pty = _Pty(link)
            self._spawn(self._serve_pty(link), "tap-terminal.pty")
        if self.tcp_port is not None:
            self._server = await asyncio.start_server(self._on_tcp, self.host, self.tcp_port)
            self.tcp_port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pty is not None:
            self._pty.close()

    @property
    def device(self) -> str:
        """The path a client opens: the symlink if there is one (it survives a dropped line)."""
        if self.pty_link is not None:
            return str(self.pty_link)
        assert self._pty is not None
        return self._pty.path

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- calls ------------------------------------------------------------------------------
    def _new_call(self, now: float) -> Central:
        return Central(
            self.config, self.faults, open_log=self._open_log, on_page=self._on_page, rng=self._rng
        )

    def _open_log(self) -> SessionLog:
        log = SessionLog(number=len(self.sessions) + 1)
        self.sessions.append(log)
        return log

    def _on_page(self, page: Page) -> None:
        self.pages.append(page)
        if self.echo:
            print(f"[tap-terminal] page for {page.pager_id}: {page.text!r} ({page.code})", flush=True)

    def _line(self, *, persistent: bool) -> _LineLike:
        if self.modem:
            return Modem(
                self._new_call,
                baud=self.baud,
                connect_delay=self.connect_delay,
                dial_result=self.dial_result,
                guard_time=self.guard_time,
            )
        return Line(self._new_call, persistent=persistent)

    async def _serve_pty(self, link: Path | None) -> None:
        while True:
            assert self._pty is not None
            ended = await self._serve(self._pty, self._line(persistent=True))
            if ended in (Hangup.DROP, "eof"):
                # The line drops: the device goes away under the client (EIO) and a new one
                # takes its place behind the same symlink.
                self._pty.close()
                self._pty = _Pty(link)

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(_Stream(reader, writer), self._line(persistent=False))
        finally:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()
            if task is not None:
                self._tasks.discard(task)

    async def _serve(self, port: _Port, line: _LineLike) -> str:
        """Run one port until the line says hang up (or the client closes a socket)."""
        loop = asyncio.get_running_loop()
        pacer = _Pacer(self.baud)
        try:
            while True:
                for chunk in line.take_output():
                    await pacer.transmit(len(chunk))
                    await port.write(chunk)
                    self.tx_bytes += len(chunk)
                if line.ended is not None:
                    return line.ended
                try:
                    async with asyncio.timeout_at(line.deadline):
                        data = await port.read()
                except TimeoutError:
                    line.tick(loop.time())
                    continue
                if not data:
                    return "eof"
                self.rx_bytes += len(data)
                await pacer.received(len(data))
                line.feed(data, loop.time())
        finally:
            if isinstance(line, Modem):
                self.dialled.extend(line.dialled)


# ---- command line ------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `callout simulate tap-terminal`."""
    p.add_argument("--pty-link", help="make this symlink point at the pty (a stable device path)")
    p.add_argument("--no-pty", action="store_true", help="TCP only")
    p.add_argument("--tcp-port", type=int, default=None, help="also listen for TAP over TCP (0: any)")
    p.add_argument("--host", default="127.0.0.1", help="TCP listen address")
    p.add_argument("--baud", type=int, default=1200, help="pace the line at this rate (0: no pacing)")
    p.add_argument("--modem", action="store_true", help="put a Hayes modem in front (ATDT to call)")
    p.add_argument("--password", default="", help="logon password the terminal requires")
    p.add_argument("--max-length", type=int, default=240, help="characters per message")
    p.add_argument("--truncate", action="store_true", help="truncate long messages (214) instead of 517")
    p.add_argument("--max-pages", type=int, default=0, help="pages per session before 112 (0: no limit)")
    p.add_argument("--invalid", action="append", default=[], metavar="PIN", help="answer 511 for this ID")
    p.add_argument("--noise", action="store_true", help="garbled bytes before every reply")
    p.add_argument("--corrupt", type=float, default=0.0, help="probability that a block arrives garbled")


async def main(
    *,
    pty_link: str | None = None,
    pty: bool = True,
    tcp_port: int | None = None,
    host: str = "127.0.0.1",
    baud: int = 1200,
    modem: bool = False,
    password: str = "",
    max_length: int = 240,
    truncate: bool = False,
    max_pages: int = 0,
    invalid: Sequence[str] = (),
    noise: bool = False,
    corrupt: float = 0.0,
) -> int:
    config = TerminalConfig(
        password=password,
        max_length=max_length,
        length_policy="truncate" if truncate else "reject",
        max_pages=max_pages,
        invalid_ids=set(invalid),
    )
    term = TapTerminal(
        pty=pty,
        pty_link=pty_link,
        tcp_port=tcp_port,
        host=host,
        baud=baud or None,
        modem=modem,
        config=config,
        faults=Faults(noise=noise, corrupt_probability=corrupt),
        echo=True,
    )
    async with term:
        where = []
        if pty:
            where.append(f"pty {term.device}")
        if tcp_port is not None:
            where.append(f"tcp {host}:{term.tcp_port}")
        pace = f"{baud} baud" if baud else "unpaced"
        print(
            f"tap-terminal: TAP 1.8 on {', '.join(where)} ({pace}{', Hayes modem' if modem else ''})",
            flush=True,
        )
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
    return 0


async def run(args: argparse.Namespace) -> int:
    """`main` from parsed `add_arguments` options."""
    return await main(
        pty_link=args.pty_link,
        pty=not args.no_pty,
        tcp_port=args.tcp_port,
        host=args.host,
        baud=args.baud,
        modem=args.modem,
        password=args.password,
        max_length=args.max_length,
        truncate=args.truncate,
        max_pages=args.max_pages,
        invalid=args.invalid,
        noise=args.noise,
        corrupt=args.corrupt,
    )
