"""schemathesis against `callout run` as a real process: the OpenAPI 3.1 document the daemon
serves is fuzzed with a bounded budget; no answer may be a server error, and every answer must
match the document (status, content type, schema)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

TOKEN = "supervisor-token-000000001"
SITE = """
[api]
port = 0
auth_failures_per_minute = 100000
tokens = [{{ name = "duty", role = "supervisor", token = "{token}" }}]

[store]
data_dir = "{data}"

[cti]
webhook_secret = "cti-secret-000000000001"

[[channels]]
name = "app"
kind = "webhook"
options = {{ url = "http://127.0.0.1:9/{{address}}", inbound_secret = "inbound-secret-0001" }}

[[resources]]
id = "ENG-1"
capabilities = ["fire"]
contact_plan = [{{ channel = "app", address = "E1" }}]
"""
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _schemathesis() -> str:
    found = shutil.which("st") or shutil.which("schemathesis")
    assert found, "schemathesis is missing: pip install schemathesis (it is in the dev extra)"
    return found


def _url(log: Path, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = re.search(r"API on (http://[^\s,]+)", log.read_text())
        if m:
            return m.group(1)
        assert proc.poll() is None, log.read_text()
        time.sleep(0.1)
    raise AssertionError("daemon did not come up:\n" + log.read_text())


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(tmp_path: Path) -> None:
    st = _schemathesis()
    cfg = tmp_path / "site.toml"
    cfg.write_text(SITE.format(token=TOKEN, data=tmp_path / "data"))
    log = tmp_path / "daemon.log"
    with log.open("wb") as err:  # a file, not a pipe: thousands of request lines never block it
        proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg)], stderr=err)
    try:
        url = _url(log, proc)
        with urllib.request.urlopen(f"{url}/api/v1/openapi.json", timeout=5) as resp:
            assert json.load(resp)["openapi"] == "3.1.0"
        run = subprocess.run(
            [
                st,
                "run",
                f"{url}/api/v1/openapi.json",
                "-H",
                f"Authorization: Bearer {TOKEN}",
                "--checks",
                CHECKS,
                "--phases",
                "examples,fuzzing",
                "--max-examples",
                "3",  # the budget: a few cases per operation, every operation reached
                "--request-timeout",
                "5",
                "--workers",
                "1",
                "--seed",
                "15",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,  # schemathesis keeps its cache in the working directory
            env={**os.environ, "NO_COLOR": "1"},
            check=False,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    summary = run.stdout[-4000:]
    assert run.returncode == 0, summary + run.stderr[-2000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert generated and generated.group(1) == generated.group(2) and int(generated.group(1)) > 0, summary
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", run.stdout)
    assert selected and selected.group(1) == selected.group(2) == selected.group(3), summary
    text = log.read_text()
    # aiohttp itself logs, and answers 400 to, requests its HTTP parser refuses (schemathesis probes
    # with a NUL byte in a header); any other traceback is ours.
    for chunk in text.split("Traceback")[1:]:
        assert "BadHttpMessage: 400" in chunk.split("\n\n")[0][:2000], chunk[:2000]
    assert "internal error" not in text and " failed: " not in text
