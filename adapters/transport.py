"""One byte line for the serial channels (KISS TNC, GSM modem, TAP terminal): a serial device
(pyserial-asyncio-fast) or a TCP socket, both handed back as asyncio streams.

`LineOptions` is the options mixin every such channel shares: either `device` (a serial device or
a pyserial URL, with `baudrate`, `bytesize`, `parity`, `stopbits`, `xonxoff`, `rtscts`) or `host`
and `port`. A device written `tcp://host:port` is a TCP socket too (a modem behind a terminal
server). Each channel's options subclass it and set their own defaults (TAP 1.8 §2: 7E1).
"""

from __future__ import annotations

import contextlib
import logging
import os
import termios
from asyncio import StreamReader, StreamWriter, open_connection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from adapters.errors import CalloutError

__all__ = [
    "Framing",
    "Line",
    "LineOptions",
    "NoSerialLibrary",
    "Stream",
    "is_pty",
    "open_line",
    "open_serial",
    "open_tcp",
    "reset_input",
]

log = logging.getLogger(__name__)
Stream = tuple[StreamReader, StreamWriter]
SERIAL_INSTALL = "pip install pyserial-asyncio-fast"
Parity = Literal["N", "E", "O", "M", "S"]


class NoSerialLibrary(CalloutError, OSError):
    """pyserial-asyncio-fast is not installed: only serial devices need it (TCP lines work)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"serial devices need pyserial-asyncio-fast ({SERIAL_INSTALL}): {detail}")


class LineOptions(BaseModel):
    """The line of a serial channel: a serial `device` or `host` and `port` (TCP)."""

    device: str | None = None
    baudrate: int = Field(9600, gt=0)
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Parity = "N"
    stopbits: Literal[1, 2] = 1
    xonxoff: bool = False
    rtscts: bool = False
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)

    @property
    def line(self) -> Line:
        """Where and how to open the line, as one value `open_line` takes."""
        host, port = self.host, self.port
        if self.device is not None and self.device.startswith("tcp://"):
            where, _, number = self.device[6:].rpartition(":")
            host, port = where.strip("[]"), int(number)
        elif self.device is not None:
            return Line(device=self.device, framing=self._framing())
        if host is None or port is None:
            raise ValueError("a line needs `device`, or `host` and `port`")
        return Line(host=host, port=port, framing=self._framing())

    def _framing(self) -> Framing:
        return Framing(self.baudrate, self.bytesize, self.parity, self.stopbits, self.xonxoff, self.rtscts)


@dataclass(frozen=True, slots=True)
class Framing:
    baudrate: int
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    xonxoff: bool = False
    rtscts: bool = False


@dataclass(frozen=True, slots=True)
class Line:
    framing: Framing
    device: str | None = None
    host: str = ""
    port: int = 0

    @property
    def where(self) -> str:
        return self.device if self.device is not None else f"tcp://{self.host}:{self.port}"


def is_pty(device: str) -> bool:
    """Unix98 pty slaves have majors 136-143 (Linux Documentation/admin-guide/devices.txt)."""
    try:
        return 136 <= os.major(Path(device).stat().st_rdev) <= 143
    except OSError:
        return False


async def open_tcp(host: str, port: int) -> Stream:
    """A TCP socket; errors are the OSError of `asyncio.open_connection`."""
    return await open_connection(host, port)


async def open_serial(device: str, framing: Framing, *, pty_fallback: bool = False) -> Stream:
    """A serial device with the given framing. With `pty_fallback`, a pseudo-terminal that refuses
    the framing (no character framing on a pty; some kernels refuse CS7/PARENB) is opened 8N1.
    Errors: OSError (serial.SerialException is one; NoSerialLibrary too) or termios.error."""
    try:  # lazy: only serial devices need the library
        import serial_asyncio_fast
    except ImportError as exc:
        raise NoSerialLibrary(str(exc)) from exc

    async def attempt(bytesize: int, parity: str) -> Stream:
        return await serial_asyncio_fast.open_serial_connection(
            url=device,
            baudrate=framing.baudrate,
            bytesize=bytesize,
            parity=parity,
            stopbits=framing.stopbits,
            xonxoff=framing.xonxoff,
            rtscts=framing.rtscts,
        )

    try:
        return await attempt(framing.bytesize, framing.parity)
    except (OSError, termios.error):
        if not pty_fallback or not is_pty(device) or (framing.bytesize, framing.parity) == (8, "N"):
            raise
        log.info(
            "serial %s: a pty that refuses %d%s framing; opening it 8N1",
            device,
            framing.bytesize,
            framing.parity,
        )
        return await attempt(8, "N")


async def open_line(line: Line, *, pty_fallback: bool = False) -> Stream:
    """Open `line`; errors are the library's (OSError, ValueError for a bad URL, termios.error)."""
    if line.device is None:
        return await open_tcp(line.host, line.port)
    return await open_serial(line.device, line.framing, pty_fallback=pty_fallback)


def reset_input(writer: StreamWriter) -> None:
    """Drop whatever a serial port received before this open (a previous call's leftovers)."""
    with contextlib.suppress(OSError, AttributeError):
        getattr(writer.transport, "serial").reset_input_buffer()  # noqa: B009 (TCP has none)
