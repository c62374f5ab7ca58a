"""I/O of a TAP line: a serial port or a TCP socket (adapters/transport.py), and an optional Hayes
modem that dials the paging terminal and hangs up afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import termios

from adapters.errors import CalloutError
from adapters.pager_tap import hayes
from adapters.pager_tap.options import ModemOptions, Options
from adapters.transport import NoSerialLibrary, open_serial, open_tcp, reset_input

log = logging.getLogger(__name__)


class LinkError(CalloutError):
    """The line could not be brought up (port, socket or modem). `code` goes into the evidence."""

    def __init__(self, reason: str, code: str) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


class Link:
    """One call's byte stream. `read` returns b"" once the line is gone, whatever the cause."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, what: str) -> None:
        self._reader = reader
        self._writer = writer
        self.what = what
        self.sent = 0
        self.received = 0

    async def read(self) -> bytes:
        try:
            data = await self._reader.read(4096)
        except OSError as exc:  # serial.SerialException is an OSError: EIO when the pty goes away
            log.debug("%s: read failed: %s", self.what, exc)
            return b""
        self.received += len(data)
        return data

    async def write(self, data: bytes) -> None:
        """Raises LinkError when the line is gone."""
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (OSError, RuntimeError) as exc:
            raise LinkError(f"{self.what}: write failed: {exc}", "line_dropped") from exc
        self.sent += len(data)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):
            async with asyncio.timeout(2):
                await self._writer.wait_closed()


async def open_link(options: Options) -> Link:
    """The serial line or TCP socket of `options` (adapters/transport.py), as a Link."""
    line = options.line
    if line.device is None:
        return await _open_tcp(options, line.host, line.port)
    what = f"serial {line.device}"
    try:
        # A pty may refuse 7E1 (TAP 1.8 §2): it is then opened 8N1. The protocol stays 7-bit
        # either way: the session sends 7-bit bytes and masks input.
        reader, writer = await open_serial(line.device, line.framing, pty_fallback=True)
    except NoSerialLibrary as exc:  # TAP over TCP works without the serial library
        raise LinkError(f"{what}: {exc}", "dependency") from exc
    except (OSError, termios.error) as exc:  # serial.SerialException is an OSError
        raise LinkError(f"{what}: cannot open: {exc}", "device") from exc
    reset_input(writer)  # whatever the port held before this call is not ours
    return Link(reader, writer, what)


async def _open_tcp(options: Options, host: str, port: int) -> Link:
    what = f"tcp {host}:{port}"
    try:
        async with asyncio.timeout(options.connect_timeout):
            reader, writer = await open_tcp(host, port)
    except TimeoutError as exc:
        raise LinkError(f"{what}: no connection within {options.connect_timeout:g}s", "connect") from exc
    except OSError as exc:
        raise LinkError(f"{what}: {exc.strerror or exc}", "connect") from exc
    return Link(reader, writer, what)


# ---- Hayes modem --------------------------------------------------------------------------------
async def _expect(link: Link, lines: hayes.ModemLines, seconds: float, what: str) -> hayes.Reply:
    """The next final result code (OK, CONNECT or a failure)."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                data = await link.read()
                if not data:
                    raise LinkError(f"modem: line closed while waiting for {what}", "modem")
                for reply in lines.feed(data):
                    if reply.result is not hayes.Result.RING:
                        return reply
    except TimeoutError as exc:
        raise LinkError(f"modem: no answer to {what} within {seconds:g}s", "modem") from exc


async def dial(link: Link, modem: ModemOptions) -> bytes:
    """Initialise the modem and dial; returns what arrived after CONNECT (the terminal's first bytes)."""
    lines = hayes.ModemLines()
    for cmd in modem.init:
        await link.write(cmd.encode("ascii") + b"\r")
        reply = await _expect(link, lines, modem.command_timeout, cmd)
        if reply.result is not hayes.Result.OK:
            raise LinkError(f"modem: {cmd} answered {reply.result.value}", "modem")
    await link.write(f"{modem.dial}{modem.number}\r".encode("ascii"))
    reply = await _expect(link, lines, modem.connect_timeout, "the dial command")
    if reply.result is not hayes.Result.CONNECT:
        code = reply.result.value.lower().replace(" ", "_")
        raise LinkError(f"modem: dialling the terminal: {reply.result.value}", code)
    log.debug("modem: CONNECT %s", reply.detail)
    return lines.rest


async def hang_up(link: Link, modem: ModemOptions, *, carrier_lost: bool) -> None:
    """After the TAP session: wait for the terminal to hang up (NO CARRIER); otherwise escape to
    command mode the Hayes way (guard time, "+++", guard time: registers S2 and S12) and send ATH0."""
    if carrier_lost:
        return
    lines = hayes.ModemLines()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(modem.hangup_wait):
            while True:
                data = await link.read()
                if not data:
                    return
                if any(r.result is hayes.Result.NO_CARRIER for r in lines.feed(data)):
                    return
    with contextlib.suppress(LinkError):
        await asyncio.sleep(modem.guard_time)
        await link.write(b"+++")
        await asyncio.sleep(modem.guard_time)
        await _expect(link, hayes.ModemLines(), modem.command_timeout, "+++")
        await link.write(b"ATH0\r")
        await _expect(link, hayes.ModemLines(), modem.command_timeout, "ATH0")
