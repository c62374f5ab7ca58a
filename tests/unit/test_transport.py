"""The one line transport of the serial channels (adapters/transport.py): options, TCP, a pty."""

from __future__ import annotations

import asyncio
import os
import tty

import pytest
from pydantic import ValidationError

from adapters.pager_tap.options import Options as TapOptions
from adapters.radio_kiss.options import Options as KissOptions
from adapters.sms_modem.options import ModemOptions
from adapters.transport import Framing, LineOptions, open_line, reset_input


def test_a_device_is_a_serial_line_with_its_framing():
    line = LineOptions(device="/dev/ttyUSB0", baudrate=4800, parity="E", bytesize=7).line
    assert line.device == "/dev/ttyUSB0" and line.where == "/dev/ttyUSB0"
    assert line.framing == Framing(4800, 7, "E", 1, False, False)


def test_a_tcp_device_or_host_and_port_is_a_socket():
    assert LineOptions(device="tcp://10.0.0.5:7000").line.where == "tcp://10.0.0.5:7000"
    line = LineOptions(host="127.0.0.1", port=8001).line
    assert (line.device, line.host, line.port) == (None, "127.0.0.1", 8001)


def test_each_channel_keeps_its_option_names_and_defaults():
    kiss = KissOptions(callsign="N0GW-10", host="127.0.0.1", tcp_port=9001)
    assert kiss.tcp_port == kiss.port == 9001 and kiss.line.where == "tcp://127.0.0.1:9001"
    assert KissOptions(callsign="N0GW-10", device="/dev/ttyS0").line.framing.baudrate == 9600
    tap = TapOptions(device="/dev/ttyS1").line.framing
    assert (tap.baudrate, tap.bytesize, tap.parity, tap.stopbits) == (1200, 7, "E", 1)
    modem = ModemOptions(name="m1", device="/dev/ttyUSB2").line.framing
    assert (modem.baudrate, modem.bytesize, modem.parity) == (115200, 8, "N")
    with pytest.raises(ValidationError):
        ModemOptions(name="m1", device="/dev/ttyUSB2", host="example.net")


async def test_a_tcp_line_carries_bytes_both_ways():
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readexactly(5))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await open_line(LineOptions(host="127.0.0.1", port=port).line)
        reset_input(writer)  # a socket has no input buffer to reset: a no-op
        writer.write(b"hello")
        assert await asyncio.wait_for(reader.readexactly(5), 5) == b"hello"
        writer.close()
        await writer.wait_closed()


async def test_a_pty_opens_as_tap_asks_or_falls_back_to_8n1():
    master, slave = os.openpty()
    tty.setraw(master)
    try:
        line = TapOptions(device=os.ttyname(slave)).line  # 7E1
        reader, writer = await open_line(line, pty_fallback=True)
        reset_input(writer)
        writer.write(b"\r")
        await writer.drain()
        assert await asyncio.to_thread(os.read, master, 16) == b"\r"
        os.write(master, b"ID=")
        assert await asyncio.wait_for(reader.read(16), 5) == b"ID="
        writer.close()
    finally:
        os.close(master)
        os.close(slave)
