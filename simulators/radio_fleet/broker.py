"""A private mosquitto for tests, benchmarks and `callout simulate`: its own loopback port, config
and persistence directory; it can be stopped and started again on the same port (persistence on,
so sessions, subscriptions, queued and retained messages survive, as on a real broker).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

INSTALL_HINT = "mosquitto not found: apt-get install mosquitto"


class BrokerError(RuntimeError):
    pass


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise BrokerError(INSTALL_HINT)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Tls:
    """Server certificate files for an mqtts listener."""

    ca_file: Path
    cert_file: Path
    key_file: Path


@dataclass
class PrivateBroker:
    port: int = 0
    persistence: bool = True
    users: dict[str, str] = field(default_factory=dict)  # name -> password; empty: anonymous
    tls: Tls | None = None
    extra_config: str = ""
    directory: Path | None = None

    def __post_init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def log_path(self) -> Path:
        assert self.directory is not None
        return self.directory / "mosquitto.log"

    async def __aenter__(self) -> Self:
        self._binary = find_mosquitto()
        if self.directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="callout-mosquitto-")
            self.directory = Path(self._tmp.name)
        self.port = self.port or free_port()
        self._write_config()
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def _write_config(self) -> None:
        assert self.directory is not None
        d = self.directory
        lines = [f"listener {self.port} 127.0.0.1", f"log_dest file {d / 'mosquitto.log'}"]
        if getpass.getuser() == "root":
            lines.append("user root")  # otherwise mosquitto drops to user "mosquitto" (no access to d)
        if self.persistence:
            lines += ["persistence true", f"persistence_location {d}/", "autosave_interval 60"]
        if self.users:
            pw = d / "passwd"
            pw.write_text("")
            for user, password in self.users.items():
                tool = shutil.which("mosquitto_passwd") or "mosquitto_passwd"
                subprocess.run([tool, "-b", str(pw), user, password], check=True, capture_output=True)  # noqa: S603
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca_file}",
                f"certfile {self.tls.cert_file}",
                f"keyfile {self.tls.key_file}",
            ]
        # A fleet gateway holds thousands of radios on one connection: the default queue of 1000
        # messages per client would drop messages under load; Nagle would add latency.
        lines += ["max_queued_messages 1000000", "max_inflight_messages 1000", "set_tcp_nodelay true"]
        lines.append(self.extra_config)
        (d / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    async def start(self) -> None:
        assert self.directory is not None
        if self.running:
            return
        with (self.directory / "stderr.log").open("ab") as stderr:
            self._proc = await asyncio.create_subprocess_exec(
                self._binary,
                "-c",
                str(self.directory / "mosquitto.conf"),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # Ctrl-C reaches callout, which stops the broker in order
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            if self._proc.returncode is not None or loop.time() > deadline:
                raise BrokerError(f"mosquitto did not start on port {self.port}: {self._log_tail()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    async def stop(self) -> None:
        """Stop gracefully (SIGTERM: mosquitto writes its persistence file on the way out)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(10):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def restart(self, *, down_for: float = 0.0) -> None:
        await self.stop()
        await asyncio.sleep(down_for)
        await self.start()

    def _log_tail(self) -> str:
        assert self.directory is not None
        out = []
        for name in ("stderr.log", "mosquitto.log"):
            with contextlib.suppress(OSError):
                out.append((self.directory / name).read_text(errors="replace")[-600:])
        return " | ".join(out)
