"""`callout demo` as a newcomer runs it: real processes, every simulator wired to a real channel,
incidents started by real SIP calls. A bounded run tells the whole story and exits 0; Ctrl-C
stops an endless one cleanly. The MQTT broker named by the environment is dead, so the demo
starts its own private mosquitto. Tools that .ci/run installs are required, not skipped."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REF = r"INC-\d{4}-0*"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _tools() -> None:
    if shutil.which("mosquitto") is None and shutil.which("mosquitto", path="/usr/sbin") is None:
        pytest.fail("mosquitto is not installed: apt-get install mosquitto")
    if shutil.which("sipp") is None:
        pytest.fail("sipp is not installed: apt-get install sip-tester")
    if importlib.util.find_spec("pjsua2") is None:
        pytest.fail("pjsua2 is not installed: pip install 'callout[sip]'")


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_command(tmp_path: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gateway.cli",
        "demo",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "demo"),
        *args,
    ]


def demo_env(broker_port: int) -> dict[str, str]:
    # This checkout's code, whichever copy an editable install points at.
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "CALLOUT_DEMO__BROKER": f"mqtt://127.0.0.1:{broker_port}"}


def line(out: str, pattern: str) -> int:
    """Index of the first output line matching `pattern` (a regex); fails when there is none."""
    for i, text in enumerate(out.splitlines()):
        if re.search(pattern, text):
            return i
    raise AssertionError(f"no line matches {pattern!r} in:\n{out}")


def test_a_bounded_run_shows_calls_faults_fallbacks_acks_and_closing(tmp_path):
    broker = dead_port()
    # A store left by an earlier run (here not even a database): --fresh starts from nothing.
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "callout.db").write_bytes(b"left over from an earlier run")
    started = time.monotonic()
    r = subprocess.run(
        demo_command(tmp_path, "--fresh", "--incidents", "4", "--interval", "1"),
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        env=demo_env(broker),
        check=False,
    )
    took = time.monotonic() - started
    out = r.stdout
    assert r.returncode == 0, f"{out[-3000:]}\n{r.stderr[-3000:]}"
    assert took < 60, f"the bounded run took {took:.0f} s"
    assert "Traceback" not in r.stderr, r.stderr[-3000:]

    # where to look, how to sign in, and which simulators run
    assert "callout demo: API on http://127.0.0.1:" in out and "desk console on http://127.0.0.1:" in out
    assert "dispatcher demo-dispatcher-token-0000" in out
    assert "on a private mosquitto at mqtt://127.0.0.1:" in out
    assert f"nothing answered at mqtt://127.0.0.1:{broker}" in out
    for device in (
        r"crew phone app on http://127\.0\.0\.1:\d+ \(ENG1 offline\)",
        r"radio fleet ENG1, ENG2, AMB1 \(AMB1 never acks\)",
        r"APRS stations M0AMB-9 behind a KISS TNC on /dev/",
        r"SMPP SMSC on 127\.0\.0\.1:\d+",
        r"HTTP SMS provider on http://127\.0\.0\.1:\d+/messages",
        r"TAP paging terminal on /dev/",
        r"SNPP server on 127\.0\.0\.1:\d+",
        r"sipp callers ringing the SIP desk endpoint",
    ):
        assert re.search(rf"^  simulator: {device}", out, re.MULTILINE), device
    assert not re.search(r"left out: (MQTT|SIP|crew|KISS|SMPP|HTTP SMS|TAP|SNPP)", out), out

    # incidents start from SIP calls; the desk fills in what the caller says and dispatches
    assert out.count("created from a SIP call answered at the desk") == 4
    assert out.count("the desk takes the details") == 4
    assert len(re.findall(r"call ended after \d+\.\d s", out)) == 4

    # Engine 1: the crew app's handset is offline (HTTP 404); the MQTT radio covers it and acks
    fault = line(out, r"crew-app:ENG1 failed_permanent \(HTTP 404\)")
    assert fault < line(out, r"radio:ENG1 sent") < line(out, r"radio:ENG1 acknowledged \(radio ack\)")
    assert "acknowledged by field:ENG-1" in out
    assert line(out, r"ENG-1 is en_route") < line(out, r"ENG-1 is on_scene")

    # P1 goes out on every channel at once: MQTT, APRS and SMS over SMPP for the ambulance,
    # radio, the TAP pager (one-way) and SMS for the engine
    assert re.search(rf"{REF}2   dispatch to AMB-1 \(parallel\)", out)
    for sent in ("radio:AMB1 sent", "aprs:M0AMB-9 sent", "sms:+447700900201 sent", "radio:ENG2 sent"):
        assert re.search(rf"{REF}2   {re.escape(sent)}", out), sent
    assert "pager:1002 sent (one-way: a pager cannot ack, so the ladder moves on)" in out
    # the crew answers on APRS and by SMS at once: the first counts, the other is a duplicate
    assert re.search(r'(aprs:M0AMB-9|sms:\+447700900201) acknowledged \("ACK 2"\)', out)
    assert re.search(rf"{REF}2   delivery to AMB-1: duplicate ack", out)

    # the technician: paged over SNPP (one-way, so the ladder moves straight on), then texted
    # through the HTTP provider, whose signed callbacks bring the receipt and the reply
    page = line(out, r"pager-net:2001 sent \(one-way: a pager cannot ack, so the ladder moves on\)")
    assert page < line(out, r"sms-web:\+447700900301 sent") < line(out, r"sms-web:\+447700900301 delivered")
    assert re.search(r'sms-web:\+447700900301 acknowledged \("ACK 3"\)', out)

    # Ambulance 1's radio takes the message but never acks: the ack deadline moves it to APRS
    silent = line(out, rf"{REF}4   radio:AMB1 closed \(no ack in time: next endpoint\)")
    assert (
        silent < line(out, rf"{REF}4   aprs:M0AMB-9 sent") < line(out, rf"{REF}4   aprs:M0AMB-9 acknowledged")
    )
    assert re.search(rf"{REF}4 on_scene by field:AMB-1", out)

    # every incident is resolved with a stand-down to whoever was reached, closed, and the run ends
    assert out.count("resolved by demo-desk") == 4
    assert len(re.findall(r"   stand-down to [A-Z]+-\d", out)) >= 5
    assert re.search(rf"{REF}1   stand-down to ENG-1 \(ladder\): radio:ENG1", out)
    assert out.count("closed by demo-supervisor") == 4
    assert out.rstrip().endswith("callout demo finished.")
    assert line(out, r"^Starting fresh: removed .*callout\.db\.$") == 0
    assert (tmp_path / "demo" / "callout.db").read_bytes().startswith(b"SQLite format 3")


def test_ctrl_c_stops_an_endless_run_cleanly(tmp_path):
    out_file, err_file = tmp_path / "out.txt", tmp_path / "err.txt"
    with out_file.open("w") as out, err_file.open("w") as err:
        proc = subprocess.Popen(
            demo_command(tmp_path, "--interval", "2"),
            stdout=out,
            stderr=err,
            cwd=tmp_path,
            env=demo_env(dead_port()),
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
        try:
            deadline = time.monotonic() + 40
            while "dispatched by demo-desk" not in out_file.read_text():
                assert proc.poll() is None, out_file.read_text() + err_file.read_text()
                assert time.monotonic() < deadline, out_file.read_text()
                time.sleep(0.2)
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    text, errors = out_file.read_text(), err_file.read_text()
    assert code == 0, text[-2000:] + errors[-2000:]
    assert "Traceback" not in errors, errors[-3000:]
    assert "Ctrl-C stops it" in text and text.rstrip().endswith("callout demo finished.")
    port = re.search(r"private mosquitto at mqtt://127.0.0.1:(\d+)", text)
    assert port is not None
    with socket.socket() as s:  # the private broker went with it
        assert s.connect_ex(("127.0.0.1", int(port[1]))) != 0
