"""The GSM modem simulator spoken to with raw bytes over TCP (its checklist in the protocol notes),
and its `callout simulate gsm-modem` entry point."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.base import OutboundMessage
from adapters.sms_modem.channel import build
from simulators.gsm_modem import Faults, GsmModem, main
from simulators.gsm_modem import sms as sim_sms

PDU = "0031000B915155214365F70000A71EC4F41C1EA68FD13A50DD9DA683623210FD0D9AD3C3F4F4DB0DA201"  # 41 octets


class Raw:
    """A dumb terminal on the modem's TCP port."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buf = b""

    def send(self, data: bytes | str) -> None:
        self.writer.write(data.encode() if isinstance(data, str) else data)

    async def expect(self, pattern: bytes, within: float = 2.0) -> bytes:
        """Everything up to and including the first match of `pattern` (a regex)."""
        async with asyncio.timeout(within):
            while (m := re.search(pattern, self.buf, re.S)) is None:
                chunk = await self.reader.read(4096)
                assert chunk, f"connection closed; got {self.buf!r}"
                self.buf += chunk
        out, self.buf = self.buf[: m.end()], self.buf[m.end() :]
        return out

    async def at(self, line: str, within: float = 2.0) -> bytes:
        self.send(line + "\r")
        return await self.expect(rb"\r\n(OK|ERROR|\+CM[ES] ERROR: [^\r]*)\r\n", within)

    async def silent_for(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await self.expect(rb".+", seconds)
            raise AssertionError(f"unexpected output {self.buf!r}")


@contextlib.asynccontextmanager
async def modem(**kwargs: object) -> AsyncIterator[tuple[GsmModem, Raw]]:
    sim = GsmModem(pty=False, tcp_port=0, **kwargs)  # type: ignore[arg-type]
    async with sim:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        try:
            yield sim, Raw(reader, writer)
        finally:
            writer.close()


async def test_echo_chaining_and_the_answers_gammu_needs():
    async with modem() as (_, t):
        assert await t.at("AT") == b"AT\r\r\nOK\r\n"  # echo on by default (V.250 §6.2.4)
        assert await t.at("ATE0V1") == b"ATE0V1\r\r\nOK\r\n"
        assert await t.at("AT") == b"\r\nOK\r\n"
        out = await t.at("AT+CMEE=1;+CREG?;+CSQ")
        assert out == b"\r\n+CREG: 0,1\r\n\r\n+CSQ: 21,99\r\n\r\nOK\r\n"
        assert await t.at("AT+CSCS?") == b'\r\n+CSCS: "GSM"\r\n\r\nOK\r\n'
        assert await t.at("AT+CSCS=?") == b'\r\n+CSCS: ("IRA","GSM","UCS2")\r\n\r\nOK\r\n'
        assert await t.at("AT+CSMS=?") == b"\r\n+CSMS: (0,1)\r\n\r\nOK\r\n"
        assert b'+CPMS: "SM",0,30' in await t.at("AT+CPMS?")
        assert await t.at("AT+MODE=2") == b"\r\nERROR\r\n"  # unknown: plain ERROR
        assert await t.at('AT+CPIN="1234"') == b"\r\n+CME ERROR: 3\r\n"  # already READY
        assert await t.at("AT+CMEE=2;+CMGR=9") == b"\r\n+CMS ERROR: invalid memory index\r\n"


async def test_pdu_send_prompt_escape_length_check_and_mr_wrap():
    async with modem(first_mr=255) as (sim, t):
        await t.at("ATE0;+CMEE=1")
        t.send("AT+CMGS=41\r")
        assert await t.expect(rb"> ") == b"\r\n> "  # no line end after the prompt (27.005 §3.5.1)
        t.send(PDU + "\x1a")
        assert await t.expect(rb"OK\r\n") == b"\r\n+CMGS: 255\r\n\r\nOK\r\n"
        t.send("AT+CMGS=41\r")
        await t.expect(rb"> ")
        t.send(PDU[:20] + "\x1b")  # ESC: abandon
        assert await t.expect(rb"OK\r\n") == b"\r\nOK\r\n"
        t.send("AT+CMGS=40\r")
        await t.expect(rb"> ")
        t.send(PDU + "\x1a")  # <length> does not match the TPDU
        assert await t.expect(rb"ERROR: \d+\r\n") == b"\r\n+CMS ERROR: 304\r\n"
        t.send("AT+CMGS=41\r")
        await t.expect(rb"> ")
        t.send(PDU)
        t.send("\x1a")  # PDU and Ctrl-Z in two writes (Kannel)
        assert await t.expect(rb"OK\r\n") == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"  # wrapped
        assert [(p.destination, p.text, p.mr) for p in sim.parts] == [
            ("+15551234567", "Dispatch: unit 12 to station 4", 255),
            ("+15551234567", "Dispatch: unit 12 to station 4", 0),
        ]


async def test_text_mode_send_status_report_and_storage():
    async with modem() as (sim, t):
        await t.at("ATE0;+CMGF=1;+CSMP=49,167,0,0;+CNMI=2,1,0,1,0")
        t.send('AT+CMGS="+15551234567"\r')
        await t.expect(rb"> ")
        t.send("unit 12\r")
        await t.expect(rb"> ")  # each CR gives a new prompt
        t.send("to station 4\x1a")
        assert await t.expect(rb"OK\r\n") == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"
        assert sim.received[0].text == "unit 12\nto station 4"
        cds = await t.expect(rb"\+CDS: [^\r]*\r\n")
        assert re.search(rb'\+CDS: 6,0,"\+15551234567",145,"[0-9/,:+]+","[0-9/,:+]+",0', cds)
        sim.deliver("+447700900001", "ACK 1")
        assert await t.expect(rb'\+CMTI: "SM",1\r\n') == b'\r\n+CMTI: "SM",1\r\n'
        out = await t.at("AT+CMGR=1")
        head = rb'\r\n\+CMGR: "REC UNREAD","\+447700900001",,"[^"]+"\r\n'
        assert re.fullmatch(head + rb"\r\nACK 1\r\n\r\nOK\r\n", out)
        assert b'+CMGL: 1,"REC READ","+447700900001"' in await t.at('AT+CMGL="ALL"')
        await t.at("AT+CMGF=0")
        out = await t.at("AT+CMGL=4")
        m = re.search(rb"\+CMGL: 1,1,,(\d+)\r\n\r\n([0-9A-F]+)\r\n", out)
        assert m is not None
        _, tpdu = sim_sms.read_smsc(bytes.fromhex(m.group(2).decode()))
        assert len(tpdu) == int(m.group(1)) and tpdu[0] & 3 == 0  # an SMS-DELIVER
        await t.at("AT+CMGD=1")
        assert await t.at("AT+CMEE=1;+CMGR=1") == b"\r\n+CMS ERROR: 321\r\n"


async def test_cms_error_on_the_nth_send_latency_and_urcs_inside_the_send():
    faults = Faults(cms_error_on={2: 500}, urc_at_prompt=["RING"], urc_before_result=['+CMTI: "SM",3'])
    async with modem(faults=faults, send_latency=0.3) as (_, t):
        await t.at("ATE0;+CMEE=1")
        t.send("AT+CMGS=41\r")
        assert await t.expect(rb"RING\r\n") == b"\r\n> \r\nRING\r\n"  # a URC after the prompt
        loop = asyncio.get_running_loop()
        t.send(PDU + "\x1a")
        started = loop.time()
        assert await t.expect(rb"OK\r\n") == b'\r\n+CMTI: "SM",3\r\n\r\n+CMGS: 0\r\n\r\nOK\r\n'
        assert loop.time() - started >= 0.29
        t.send("AT+CMGS=41\r")
        await t.expect(rb"> ")
        t.send(PDU + "\x1a")
        assert await t.expect(rb"ERROR: \d+\r\n") == b"\r\n+CMS ERROR: 500\r\n"


async def test_sim_and_registration_states():
    async with modem(sim="SIM PIN") as (sim, t):
        await t.at("ATE0;+CMEE=1")
        assert b"+CPIN: SIM PIN" in await t.at("AT+CPIN?")
        assert b"+CREG: 0,0" in await t.at("AT+CREG?")
        t.send("AT+CMGS=41\r")
        assert await t.expect(rb"ERROR: \d+\r\n") == b"\r\n+CMS ERROR: 311\r\n"
        assert await t.at('AT+CPIN="0000"') == b"\r\n+CME ERROR: 16\r\n"
        assert await t.at('AT+CPIN="1234"') == b"\r\nOK\r\n"
        assert b"+CPIN: READY" in await t.at("AT+CPIN?")
        await t.at("AT+CREG=1")
        sim.set_registration(3)
        assert await t.expect(rb"\+CREG: 3\r\n") == b"\r\n+CREG: 3\r\n"
        assert b"+CREG: 1,3" in await t.at("AT+CREG?")
        t.send("AT+CMGS=41\r")
        await t.expect(rb"> ")
        t.send(PDU + "\x1a")
        assert await t.expect(rb"ERROR: \d+\r\n") == b"\r\n+CMS ERROR: 331\r\n"  # no network service
        sim.sim = "NOT INSERTED"
        assert await t.at("AT+CPIN?") == b"\r\n+CME ERROR: 10\r\n"
    async with modem(sim="SIM PIN") as (sim, t):
        for _ in range(3):
            await t.at('ATE0;+CMEE=1;+CPIN="9999"')
        assert sim.sim == "SIM PUK" and b"+CPIN: SIM PUK" in await t.at("AT+CPIN?")


async def test_reset_goes_silent_and_comes_back_with_defaults():
    async with modem(reset_silence=0.5) as (sim, t):
        await t.at("ATE0")
        assert await t.at("ATZ") == b"\r\nOK\r\n"
        t.send("AT\r")
        await t.silent_for(0.35)  # neither heard nor answered
        await asyncio.sleep(0.2)
        assert await t.at("AT") == b"AT\r\r\nOK\r\n"  # echo is back on
        assert sim.resets == 1
        assert await t.at("AT+CFUN=1,1") == b"AT+CFUN=1,1\r\r\nOK\r\n"
        assert sim.resets == 2


async def test_cli_main_prints_each_message_and_replies(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    link = tmp_path / "ttySIM0"
    task = asyncio.create_task(
        main(pty_link=link, latency=0.0, report_delay=0.05, reply="ACK", reply_delay=0.05, tcp_port=0)
    )
    try:
        async with asyncio.timeout(3):
            while not link.is_symlink():
                await asyncio.sleep(0.02)
        options = {"modems": [{"name": "m1", "device": str(link)}], "start_timeout": 3.0}
        async with build("sms", options) as ch:
            text = "INC-2026-000001 P1 kitchen fire"
            await ch.send(OutboundMessage("1", "+15551234567", (text,), "INC", "P1", True))
            async with asyncio.timeout(3):
                while True:
                    event = await ch._inbound.get()
                    if getattr(event, "text", None) == "ACK":
                        break
        out = capsys.readouterr().out
        assert f"[gsm-modem] SMS to +15551234567 (TP-MR [0]): {text}" in out
        assert "[gsm-modem] listening on pty /dev/" in out and "TCP 127.0.0.1:" in out
    finally:
        task.cancel()
        assert await task == 0
    assert not link.exists()
