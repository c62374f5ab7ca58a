"""`callout run` as a real process: start it on a free port, wait for the line that says where its
API is, call its API, kill or stop it (tests and benchmarks share this launcher)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

TOKEN = "desk-token-000000001"


def wait_for_url(proc: subprocess.Popen[str], timeout: float = 20) -> str:
    """The API's base URL from the daemon's "API on …" log line; fails with what it printed."""
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        m = re.search(r"API on (http://[^\s,]+)", line)
        if m:
            return m.group(1)
        if proc.poll() is not None:
            break
    raise AssertionError("daemon did not come up:\n" + "".join(seen[-40:]))


class Daemon:
    """A running `callout run`: its process, API URL and log lines (drained by a thread)."""

    def __init__(self, name: str | None, proc: subprocess.Popen[str], url: str) -> None:
        self.name, self.proc, self.url = name, proc, url
        self.log: list[str] = []
        # The log pipe must keep draining, or a chatty node would block on a full pipe.
        assert proc.stderr is not None
        threading.Thread(target=self.log.extend, args=(proc.stderr,), daemon=True).start()

    def call(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        req = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.load(resp)

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind (what a power cut or the OOM killer does)."""
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM and wait; SIGKILL if it does not stop in time."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start(
    cfg: Path, name: str | None = None, *, hosts: list[str] | None = None, env: dict[str, str] | None = None
) -> Daemon:
    """`callout run -c cfg` on a free API port; `name`: its [node] name (several nodes only)."""
    extra = {"CALLOUT_API__PORT": "0", "CALLOUT_LOGGING__LEVEL": "INFO"}
    if name is not None:
        extra["CALLOUT_NODE__NAME"] = name
    if hosts is not None:
        extra["CALLOUT_NODE__HOSTS"] = json.dumps(hosts)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg)],
        env={**os.environ, **extra, **(env or {})},
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = wait_for_url(proc, timeout=30)
    except BaseException:
        proc.kill()
        raise
    return Daemon(name, proc, url)
