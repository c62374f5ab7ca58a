"""`callout demo` as a newcomer runs it: a bounded run tells the whole story and exits 0."""

from __future__ import annotations

import subprocess
import sys


def test_demo_shows_dispatch_fault_fallback_ack_and_closing(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "demo",
            "--port",
            "0",
            "--incidents",
            "3",
            "--interval",
            "1",
            "--data-dir",
            str(tmp_path / "demo"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        check=False,
    )
    out = r.stdout
    assert r.returncode == 0, r.stderr[-3000:]
    assert "callout demo: API on http://127.0.0.1:" in out
    # the forced fault and the fallback that covers it
    assert "radio-app:ENG1 failed_permanent (HTTP 404)" in out
    assert "sms-app:+447700900101 sent" in out
    # acknowledgements and unit status from the simulated field
    assert "acknowledged by field:ENG-1" in out
    assert "ENG-1 is on_scene" in out
    # P1 goes out on every channel at once
    assert "radio-app:AMB1 sent" in out and "sms-app:+447700900201 sent" in out
    # every incident is stood down and closed, and the run ends by itself
    assert out.count("closed by demo-supervisor") == 3
    assert "callout demo finished." in out
    assert "Traceback" not in r.stderr
    assert (tmp_path / "demo" / "callout.db").exists()
