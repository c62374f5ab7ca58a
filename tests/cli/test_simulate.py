"""`callout simulate <device>` starts each simulator standalone and says where it listens."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from gateway.demo.simulate import SIMULATORS

CASES = {
    "gsm-modem": (["--tcp-port", "0"], "[gsm-modem] listening on pty"),
    "ami": (["--port", "0"], "AMI simulator on 127.0.0.1:"),
    "calls": (["--to", "sip:desk@127.0.0.1:9", "--count", "1", "--rate", "1"], "sipp: 1 caller calls at 1/s"),
    "phone": (["--port", "0", "--press", "1"], "phone listening on udp 127.0.0.1:"),
    "radio-fleet": (["--count", "3", "--broker", "{broker}"], "radio fleet radio-fleet: 3 radios on mqtt://"),
    "field-app": (["--port", "0"], "field-app listening on http://127.0.0.1:"),
    "kiss-tnc": (["--no-pty", "--tcp-port", "0"], "kiss-tnc on tcp 127.0.0.1:"),
    "smsc": (["--port", "0"], "smsc listening on 127.0.0.1:"),
    "sms-http": (["--port", "0"], "sms-http provider on http://127.0.0.1:"),
    "tap-terminal": (["--no-pty", "--tcp-port", "0"], "tap-terminal: TAP 1.8 on tcp 127.0.0.1:"),
    "snpp": (["--port", "0"], "snpp: RFC 1861 server on 127.0.0.1:"),
    "mail": (["--port", "0", "--return-port", "0"], "mail: SMTP on 127.0.0.1:"),
}


def test_every_simulator_has_a_case_here():
    assert set(CASES) <= set(SIMULATORS)
    missing = set(SIMULATORS) - set(CASES)
    assert not missing, f"add a start-up case for {sorted(missing)}"


@pytest.fixture(scope="module")
def broker_url():
    """A private mosquitto for the radio fleet (started and stopped by the test, not the system's)."""
    import asyncio

    from simulators.radio_fleet.broker import PrivateBroker

    loop = asyncio.new_event_loop()
    broker = PrivateBroker()
    loop.run_until_complete(broker.__aenter__())
    yield broker.url
    loop.run_until_complete(broker.__aexit__(None, None, None))
    loop.close()


@pytest.mark.parametrize("device", sorted(CASES))
def test_simulator_starts_and_stops_cleanly(device, broker_url):
    args, banner = CASES[device]
    args = [a.replace("{broker}", broker_url) for a in args]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "simulate", device, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        assert proc.stdout is not None
        line = ""
        while time.monotonic() < deadline and banner not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert banner in line, (
            f"{device} printed {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
        )
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
