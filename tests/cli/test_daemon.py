"""`callout run` as a real process: serves, takes work, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.cli.test_check_config import GOOD
from tests.support.daemon import wait_for_url


def test_daemon_serves_and_shuts_down_cleanly_on_sigterm(tmp_path: Path):
    cfg = tmp_path / "site.toml"
    cfg.write_text(GOOD + f"\n[store]\ndata_dir = '{tmp_path / 'data'}'\n")
    env = {**os.environ, "CALLOUT_API__PORT": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = wait_for_url(proc)
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as resp:
            assert json.load(resp) == {"status": "ok"}
        req = urllib.request.Request(
            f"{url}/api/v1/incidents",
            method="POST",
            data=json.dumps(
                {"nature": "flood", "location": "Plant room", "category": "water", "impact": 2, "urgency": 2}
            ).encode(),
            headers={"Authorization": "Bearer desk-token-000000001", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 201
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "callout stopped" in err
    assert "Traceback" not in err
    assert (tmp_path / "data" / "callout.db").exists()
