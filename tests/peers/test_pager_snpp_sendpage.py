"""Peer test: HylaFAX's `sendpage` (a real, independent SNPP client) pages through the SNPP
simulator, and the simulator reports the page. Never skipped: without the client the test fails
saying what to install."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from simulators.snpp_server import SnppPage, SnppServer

INSTALL = "apt-get update && apt-get install -y hylafax-client"


def sendpage() -> str:
    path = shutil.which("sendpage")
    if path is None:
        pytest.fail(f"HylaFAX's sendpage is needed for this peer test; install it with: {INSTALL}")
    return path


async def run_sendpage(*args: str) -> tuple[int, str]:
    env = {**os.environ, "HOME": os.environ.get("HOME", "/tmp")}
    proc = await asyncio.create_subprocess_exec(
        sendpage(),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    return proc.returncode or 0, out.decode(errors="replace")


async def test_hylafax_sendpage_pages_through_the_simulator(capsys):
    async with SnppServer(echo=True) as srv:
        code, out = await run_sendpage("-h", f"127.0.0.1:{srv.port}", "-p", "1001", "Unit 12 to Stn 4")
    assert code == 0, out
    assert srv.pages == [SnppPage("1001", "Unit 12 to Stn 4", 1, 1)]
    # sendpage speaks the 4-letter forms and tries hfaxd's SITE extension, which we answer 500
    assert srv.transcript[-3:] == ["PAGE 1001", "MESS Unit 12 to Stn 4", "SEND"]
    assert "SITE HELP NOTIFY" in srv.transcript
    assert "[snpp] page for 1001: 'Unit 12 to Stn 4'" in capsys.readouterr().out


async def test_hylafax_sendpage_with_two_pagers_and_a_service_level():
    async with SnppServer() as srv:
        code, out = await run_sendpage(
            "-h", f"127.0.0.1:{srv.port}", "-l", "0", "-p", "1001", "-p", "1002", "Fire"
        )
    assert code == 0, out
    assert [(p.pager_id, p.text, p.level) for p in srv.pages] == [("1001", "Fire", 0), ("1002", "Fire", 0)]


async def test_hylafax_sendpage_reports_an_invalid_pager_id():
    async with SnppServer(invalid_ids={"999"}) as srv:
        code, out = await run_sendpage("-h", f"127.0.0.1:{srv.port}", "-p", "999", "nobody")
    assert code != 0 and "Invalid Pager ID" in out
    assert srv.pages == []
