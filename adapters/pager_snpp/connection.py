"""One SNPP connection: a receive task turns bytes into replies (codec.ReplyParser), so a reply the
server sends on its own (421 Timeout, §4.8) is seen even while nobody is waiting for one."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from adapters.errors import CalloutError
from adapters.pager_snpp import codec

log = logging.getLogger(__name__)


class ConnectionLost(CalloutError):
    """The connection is gone; `reply` is the 4xx the server said goodbye with, if any."""

    def __init__(self, what: str, reply: codec.Reply | None = None) -> None:
        self.reply = reply
        super().__init__(f"{what}: {reply}" if reply else what)


class Connection:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, number: int, name: str
    ) -> None:
        self.number = number
        self.name = name
        self._reader = reader
        self._writer = writer
        self._replies: asyncio.Queue[codec.Reply | None] = asyncio.Queue()
        self.goodbye: codec.Reply | None = None  # the 4xx that closed it
        self.dead = False
        self.last_used = asyncio.get_running_loop().time()

    @property
    def alive(self) -> bool:
        return not self.dead and self.goodbye is None

    async def receive(self) -> None:
        """The connection's receive loop (a one-shot child of the channel). Never raises."""
        parser = codec.ReplyParser()
        try:
            while data := await self._reader.read(4096):
                for reply in parser.feed(data):
                    if reply.closes:
                        self.goodbye = reply
                    self._replies.put_nowait(reply)
        except (OSError, codec.SnppProtocolError) as exc:
            log.warning("snpp %s: connection %d failed: %s", self.name, self.number, exc)
        finally:
            self.dead = True
            self._replies.put_nowait(None)

    async def reply(self, seconds: float) -> codec.Reply:
        """The next reply. A 4xx is returned (the caller decides); the connection is then dead."""
        try:
            async with asyncio.timeout(seconds):
                reply = await self._replies.get()
        except TimeoutError as exc:
            self.dead = True
            raise ConnectionLost(f"no reply within {seconds:g}s") from exc
        if reply is None:
            self._replies.put_nowait(None)  # stays closed for every later reader
            raise ConnectionLost("connection closed by the server", self.goodbye)
        return reply

    async def command(self, line: bytes, seconds: float) -> codec.Reply:
        """Send one command and return its reply. Raises ConnectionLost if the server had
        already said goodbye (a 421 while idle) or closes before answering."""
        while not self._replies.empty():  # replies nobody asked for: only a goodbye matters
            stale = self._replies.get_nowait()
            if stale is None or stale.closes:
                self._replies.put_nowait(None)
                raise ConnectionLost("the server closed the connection while idle", stale or self.goodbye)
        if self.dead:
            raise ConnectionLost("connection closed", self.goodbye)
        try:
            self._writer.write(line)
            await self._writer.drain()
        except OSError as exc:
            self.dead = True
            raise ConnectionLost(f"write failed: {exc}") from exc
        self.last_used = asyncio.get_running_loop().time()
        return await self.reply(seconds)

    async def close(self, *, quit_first: bool, seconds: float = 2.0) -> None:
        """QUIT (221, §4.3.5) when the connection still works, then close it."""
        if quit_first and self.alive:
            with contextlib.suppress(ConnectionLost):
                await self.command(codec.QUIT, seconds)
        self.dead = True
        self._writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(seconds):
                await self._writer.wait_closed()
