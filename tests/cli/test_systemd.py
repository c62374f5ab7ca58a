"""sd_notify over a real UNIX datagram socket: the readiness, watchdog and stopping messages a
systemd unit with `Type=notify` and `WatchdogSec=` expects (contrib/callout.service)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

from gateway import systemd
from tests.cli.test_check_config import GOOD
from tests.support.daemon import wait_for_url


def _socket(tmp_path: Path) -> tuple[socket.socket, str]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    return sock, path


def test_notify_sends_one_datagram_to_a_path(tmp_path: Path):
    sock, path = _socket(tmp_path)
    with sock:
        assert systemd.notify("READY=1\nSTATUS=up", env={"NOTIFY_SOCKET": path})
        assert sock.recv(4096) == b"READY=1\nSTATUS=up"


def test_notify_reaches_an_abstract_socket():
    name = f"callout-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert systemd.notify("WATCHDOG=1", env={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_without_a_service_manager_nothing_is_sent(tmp_path: Path):
    assert systemd.notify("READY=1", env={}) is False
    assert systemd.notify("READY=1", env={"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}) is False


def test_the_watchdog_interval_is_half_the_one_systemd_gives():
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert systemd.watchdog_interval({}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "x"}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    mine = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    assert systemd.watchdog_interval(mine) == 1.0


def test_the_daemon_says_ready_pets_the_watchdog_and_says_stopping(tmp_path: Path):
    cfg = tmp_path / "site.toml"
    cfg.write_text(GOOD + f"\n[store]\ndata_dir = '{tmp_path / 'data'}'\n")
    sock, path = _socket(tmp_path)
    env = {**os.environ, "CALLOUT_API__PORT": "0", "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "-c", str(cfg)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    with sock:
        try:
            url = wait_for_url(proc)
            first = sock.recv(4096).decode()
            assert first.startswith("READY=1\n") and url in first
            assert sock.recv(4096) == b"WATCHDOG=1"
            assert sock.recv(4096) == b"WATCHDOG=1"
            proc.send_signal(signal.SIGTERM)
            seen = []
            while not seen or seen[-1] == "WATCHDOG=1":
                seen.append(sock.recv(4096).decode())
            assert seen[-1].startswith("STOPPING=1")
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0
