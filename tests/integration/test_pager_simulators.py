"""The pager simulators themselves, spoken to in raw bytes straight from the specs (TAP 1.8,
RFC 1861), so that the simulators the channel tests rely on are checked without the codecs."""

from __future__ import annotations

import asyncio

from simulators.snpp_server import SnppServer
from simulators.tap_terminal import TapTerminal, TerminalConfig


class Raw:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.r, self.w = reader, writer

    @classmethod
    async def open(cls, port: int) -> Raw:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def say(self, data: bytes) -> None:
        self.w.write(data)
        await self.w.drain()

    async def until(self, marker: bytes) -> bytes:
        return await asyncio.wait_for(self.r.readuntil(marker), 2)

    async def close(self) -> None:
        self.w.close()


def block(data: bytes, end: int = 0x03) -> bytes:
    body = b"\x02" + data + bytes((end,))
    s = sum(body) & 0xFFF
    return body + bytes((0x30 + (s >> 8), 0x30 + (s >> 4 & 15), 0x30 + (s & 15))) + b"\r"


async def tap_logon(port: int, password: bytes = b"") -> Raw:
    c = await Raw.open(port)
    await c.say(b"\r")
    assert await c.until(b"ID=\r") == b"ID=\r"
    await c.say(b"\x1bPG1" + password + b"\r")
    assert await c.until(b"\x1b[p\r") == b"110 1.8\r114 callout TAP paging terminal simulator\r\x06\r\x1b[p\r"
    return c


async def test_tap_session_us_continuation_oversize_block_and_logoff():
    async with TapTerminal(pty=False, tcp_port=0, config=TerminalConfig(invalid_ids={"999"})) as term:
        c = await tap_logon(term.tcp_port)
        await c.say(block(b"1001\rfirst ", 0x1F))  # US where ETB is meant: accepted all the same
        assert await c.until(b"\r") == b"\x06\r"
        await c.say(block(b"half\r"))
        assert await c.until(b"\x06\r") == b"211 Page(s) Sent Successfully\r\x06\r"
        await c.say(block(b"999\rnobody\r"))
        assert await c.until(b"\x1e\r") == b"511 Invalid pager ID\r\x1e\r"
        await c.say(block(b"1002\r" + b"z" * 251))  # 257 characters: too long for a block
        assert (
            await c.until(b"\x1e\r") == b"515 Message format error: block longer than 256 characters\r\x1e\r"
        )
        await c.say(b"\x021003\rbad\r\x03000\r")  # wrong checksum
        assert await c.until(b"\x15\r") == b"514 Checksum error\r\x15\r"
        await c.say(b"\x04\r")
        assert await c.until(b"\x1b\x04\r") == b"115 Goodbye\r\x1b\x04\r"
        assert await c.r.read() == b""  # and the terminal hangs up
    assert [(p.pager_id, p.text) for p in term.pages] == [("1001", "first half")]


async def test_tap_password_nak_then_esc_eot_and_session_page_limit():
    async with TapTerminal(
        pty=False, tcp_port=0, config=TerminalConfig(password="PW1234", max_pages=1)
    ) as term:
        c = await Raw.open(term.tcp_port)
        await c.say(b"\r")
        await c.until(b"ID=\r")
        await c.say(b"\x1bPG1WRONG\r")
        assert await c.until(b"\x15\r") == b"509 Invalid logon: invalid password supplied\r\x15\r"
        await c.say(b"\x1bPG1WRONG\r")
        await c.until(b"\x15\r")
        await c.say(b"\x1bPG1WRONG\r")
        assert await c.until(b"\x1b\x04\r") == b"509 Invalid logon: invalid password supplied\r\x1b\x04\r"
        c = await tap_logon(term.tcp_port, b"PW1234")
        await c.say(block(b"1\rone\r"))
        await c.until(b"\x06\r")
        await c.say(block(b"2\rtwo\r"))
        assert await c.until(b"\x1b\x04\r") == b"112 Maximum pages entered for session\r\x1b\x04\r"
    assert [p.pager_id for p in term.pages] == ["1"]


async def test_tap_modem_front_end_dials_and_reports_no_carrier():
    async with TapTerminal(pty=False, tcp_port=0, modem=True, connect_delay=0.01, baud=2400) as term:
        c = await Raw.open(term.tcp_port)
        await c.say(b"ATE0\r")
        assert await c.until(b"OK\r\n") == b"ATE0\r\r\nOK\r\n"  # echoed before E0 takes effect
        await c.say(b"ATDT5551234\r")
        assert await c.until(b"\r\n") == b"\r\n" and await c.until(b"\r\n") == b"CONNECT 2400\r\n"
        await c.say(b"\r")
        await c.until(b"ID=\r")
        await c.say(b"\x1bPG1\r")
        await c.until(b"\x1b[p\r")
        await c.say(b"\x04\r")
        await c.until(b"\x1b\x04\r")
        assert await c.until(b"NO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"
        await c.close()
    assert term.dialled == ["5551234"]


async def test_snpp_prefixes_case_and_the_rules_of_a_transaction():
    async with SnppServer() as srv:
        c = await Raw.open(srv.port)
        assert (await c.until(b"\n")).startswith(b"220 ")
        script = [
            (b"SEND\r\n", b"503 Error, Pager ID or Message Incomplete\r\n"),
            (b"pager 1001\r\n", b"250 Pager ID Accepted\r\n"),
            (b"Level 3\r\n", b"250 OK, Alternate Service Level Accepted\r\n"),
            (b"PaGe 1002 secret\r\n", b"250 Pager ID Accepted\r\n"),
            (b"message hello there\r\n", b"250 Message OK\r\n"),
            (b"MESS again\r\n", b"503 ERROR, Message Already Entered\r\n"),
            (b"DATA\r\n", b"503 ERROR, Message Already Entered\r\n"),
            (b"LEVE 12\r\n", b"550 Error, Invalid Level\r\n"),
            (b"2WAY\r\n", b"500 Command Not Implemented\r\n"),
            (b"send\r\n", b"250 Message Sent Successfully\r\n"),
            (b"RESEt\r\n", b"250 RESET OK\r\n"),
            (b"QUIT\r\n", b"221 OK, Goodbye\r\n"),
        ]
        for line, reply in script:
            await c.say(line)
            assert await c.until(b"\n") == reply, line
        assert await c.r.read() == b""
    assert [(p.pager_id, p.text, p.level) for p in srv.pages] == [
        ("1001", "hello there", 1),
        ("1002", "hello there", 3),
    ]


async def test_snpp_random_421_closes_and_idle_timeout_says_goodbye():
    async with SnppServer(random_421=1.0) as srv:
        c = await Raw.open(srv.port)
        await c.until(b"\n")
        await c.say(b"PAGE 1001\r\n")
        assert (await c.until(b"\n")).startswith(b"421 ")
        assert await c.r.read() == b""
    async with SnppServer(idle_timeout=0.1) as srv:
        c = await Raw.open(srv.port)
        await c.until(b"\n")
        assert await c.until(b"\n") == b"421 Timeout, Goodbye\r\n"
        assert await c.r.read() == b""
