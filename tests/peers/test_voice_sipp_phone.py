"""Peer test: the voice channel calls sipp playing a phone that presses 1 as RFC 4733 events
(one of sipp's own captures), an independent reading of the specifications beside ours."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import pytest

from adapters.base import OutboundMessage, RadioAck
from adapters.voice.channel import build
from simulators.sip_calls import SCENARIOS

PCAP = Path("/usr/share/sip-tester/dtmf_2833_1.pcap")
OFFERED_EVENT_TYPE = 120  # the telephone-event payload type pjsua's offer names (RFC 4733 §7.1.1)


def capture_with_payload_type(source: Path, target: Path, payload_type: int) -> Path:
    """sipp's capture of key 1 with the telephone-event payload type of pjsua's offer (the
    capture says 101; RFC 3264 §6.1: the answerer sends the offer's numbers). Classic pcap,
    Ethernet + IPv4 + UDP, RTP at byte 42 of each frame; the UDP checksum is cleared (RFC 768:
    zero means none), since the payload changes."""
    data = bytearray(source.read_bytes())
    off = 24
    while off + 16 <= len(data):
        incl = int.from_bytes(data[off + 8 : off + 12], "little")
        frame = off + 16
        data[frame + 40 : frame + 42] = b"\0\0"  # UDP checksum
        data[frame + 43] = (data[frame + 43] & 0x80) | payload_type  # RTP marker kept, PT replaced
        off = frame + incl
    target.write_bytes(bytes(data))
    return target


async def test_a_sipp_phone_pressing_1_over_rfc_4733_acknowledges_the_callout(tmp_path):
    if shutil.which("sipp") is None or not PCAP.exists():
        pytest.fail("sipp with its DTMF captures is not installed: apt-get install sip-tester")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pcap = capture_with_payload_type(PCAP, tmp_path / "key1.pcap", OFFERED_EVENT_TYPE)
    command = [
        "sipp",
        "-key",
        "pcap",
        str(pcap),
        "-key",
        "te",
        str(OFFERED_EVENT_TYPE),
        "-sf",
        str(SCENARIOS / "phone.xml"),
        "-i",
        "127.0.0.1",
    ]
    command += ["-p", str(port), "-mi", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "30s"]
    sipp = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        await asyncio.sleep(0.3)  # sipp binds its port
        options = {
            "bind_address": "127.0.0.1",
            "uri_template": f"sip:{{address}}@127.0.0.1:{port}",
            "workers": 1,
            "repeat": 1,
            "speed": 300,
            "ring_timeout": 5,
            "digit_timeout": 4,
            "cache_dir": str(tmp_path),
        }
        async with build("voice", options) as ch:
            receipt = await ch.send(
                OutboundMessage("9", "555", ("Fire at the depot.",), "INC-2026-000009", "P2", True)
            )
            assert receipt.evidence["sip_status"] == 200
            async with asyncio.timeout(15):
                event = await anext(aiter(ch.events()))
        assert isinstance(event, RadioAck) and event.message_id == "9" and event.evidence["dtmf"] == "1"
        assert event.evidence["dtmf_method"] == "rfc4733"
        async with asyncio.timeout(20):
            _, err = await sipp.communicate()
        assert sipp.returncode == 0, err.decode(errors="replace")[-800:]
    finally:
        if sipp.returncode is None:
            sipp.kill()
            await sipp.wait()
