"""Peer test: gammu (an independent AT client, Debian package `gammu`) against our GSM modem
simulator on a pty: it identifies the modem, sends through it, and reads what arrived."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from simulators.gsm_modem import GsmModem

GAMMU_TIMEOUT = 30.0


@pytest.fixture
def gammu() -> str:
    path = shutil.which("gammu")
    if path is None:
        pytest.fail("gammu is needed for the peer test: apt-get update && apt-get install -y gammu")
    return path


async def run(gammu: str, rc: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        gammu, "-c", str(rc), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with asyncio.timeout(GAMMU_TIMEOUT):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    text = out.decode(errors="replace")
    assert proc.returncode == 0, f"gammu {' '.join(args)} exited {proc.returncode}:\n{text}"
    return text


def gammurc(tmp_path: Path, device: Path) -> Path:
    rc = tmp_path / "gammurc"
    rc.write_text(f"[gammu]\ndevice = {device}\nconnection = at\n")  # protocol notes, gammu section
    return rc


async def test_gammu_identifies_sends_and_reads_through_the_simulator(gammu, tmp_path):
    link = tmp_path / "ttySIM0"
    async with GsmModem(pty_link=link, send_latency=0.05) as sim:
        rc = gammurc(tmp_path, link)
        out = await run(gammu, rc, "--identify")
        assert "Callout Simulators" in out and sim.imei in out and sim.imsi in out

        text = "Dispatch: unit 12 to station 4"
        out = await run(gammu, rc, "sendsms", "TEXT", "+15551234567", "-text", text)
        assert "message reference=0" in out
        assert [(r.destination, r.text) for r in sim.received] == [("+15551234567", text)]
        assert "AT+CMGF=0" in sim.commands and any(c.startswith("AT+CMGS=") for c in sim.commands)

        # A long Unicode message: gammu's concatenation (UDH) and UCS-2, read by our simulator.
        long = "Пожар на улице Ленина, 12. Выезд немедленно! " * 4
        args = ("sendsms", "TEXT", "+447700900001", "-unicode", "-len", "400", "-text", long)
        out = await run(gammu, rc, *args)
        assert sim.received[-1].destination == "+447700900001" and sim.received[-1].text == long
        assert len(sim.received[-1].mrs) > 1

        # An incoming reply: gammu lists it from the simulator's SIM storage (+CMGL / +CMGR).
        sim.deliver("+15551234567", "ACK 1234")
        out = await run(gammu, rc, "getallsms")
        assert "ACK 1234" in out and "+15551234567" in out
