"""`callout run` as a real process: wait for the line that says where its API is."""

from __future__ import annotations

import re
import subprocess
import time


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
