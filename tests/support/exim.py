"""A private Exim (Debian's exim4) for peer tests: its own configuration, spool and log in a
temporary folder, listening on a free port on 127.0.0.1, never the system's MTA.

It accepts submissions from 127.0.0.1 (with STARTTLS and AUTH PLAIN/LOGIN offered), relays
`field.test` to the mail simulator and `callout.test` to callout's own listener, and writes the
bounces itself when the simulator refuses a recipient. Tests only, never shipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

INSTALL = "apt-get update && apt-get install -y exim4-daemon-light"
USER, PASSWORD = "callout", "s3cret-pass"

CONFIG = """
primary_hostname = mta.test
qualify_domain = mta.test
local_interfaces = 127.0.0.1
daemon_smtp_ports = @port@
spool_directory = @home@/spool
log_file_path = @home@/log/%slog
pid_file_path = @home@/exim.pid
exim_user = @user@
exim_group = @group@
never_users =
host_lookup =
rfc1413_hosts =
keep_environment =
split_spool_directory = false
delay_warning =
ignore_bounce_errors_after = 0s
timeout_frozen_after = 10m
tls_advertise_hosts = *
tls_certificate = @home@/cert.pem
tls_privatekey = @home@/key.pem
acl_smtp_rcpt = check_rcpt

begin acl
check_rcpt:
  accept hosts = 127.0.0.1
  deny message = relay not permitted

begin routers
to_callout:
  driver = manualroute
  domains = callout.test
  transport = listener
  route_list = * 127.0.0.1 byname
  self = send
to_field:
  driver = manualroute
  domains = field.test
  transport = field
  route_list = * 127.0.0.1 byname
  self = send

begin transports
listener:
  driver = smtp
  port = @listener_port@
  allow_localhost
  hosts_avoid_tls = *
field:
  driver = smtp
  port = @field_port@
  allow_localhost
  hosts_avoid_tls = *

begin retry
* * F,10m,1s

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_advertise_condition = ${if def:tls_in_cipher}
  server_condition = ${if and {{eq{$auth2}{@user_name@}}{eq{$auth3}{@password@}}}}
  server_set_id = $auth2
"""


def exim() -> str:
    path = shutil.which("exim4") or shutil.which("exim")
    if path is None:
        pytest.fail(f"Exim is needed for the email peer test; install it with: {INSTALL}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _certificate(home: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(home / "key.pem"), "-out", str(home / "cert.pem"), "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip


@dataclass
class Exim:
    port: int
    home: Path
    ca_file: Path

    def log(self) -> str:
        path = self.home / "log" / "mainlog"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.asynccontextmanager
async def private_exim(*, listener_port: int, field_port: int) -> AsyncIterator[Exim]:
    """Exim drops to its own user, which cannot enter pytest's private temporary folders: its
    home is a fresh folder of its own, removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="callout-exim-"))
    try:
        async with _running(home, listener_port=listener_port, field_port=field_port) as mta:
            yield mta
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextlib.asynccontextmanager
async def _running(home: Path, *, listener_port: int, field_port: int) -> AsyncIterator[Exim]:
    binary = exim()
    account = next((pwd.getpwnam(n) for n in ("Debian-exim", "exim") if _has_user(n)), None)
    if account is None:
        pytest.fail(f"no Exim system user (Debian-exim); install Exim with: {INSTALL}")
    for sub in ("spool", "log"):
        (home / sub).mkdir(parents=True)
    _certificate(home)
    port = free_port()
    conf = home / "exim.conf"
    values = {
        "port": port, "home": home, "user": account.pw_name, "group": account.pw_gid,
        "listener_port": listener_port, "field_port": field_port, "user_name": USER, "password": PASSWORD,
    }  # fmt: skip
    text = CONFIG
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    conf.write_text(text)
    conf.chmod(0o644)
    for path in (home, home / "spool", home / "log", home / "key.pem", home / "cert.pem"):
        os.chown(path, account.pw_uid, account.pw_gid)
    home.chmod(0o755)
    check = subprocess.run([binary, "-C", str(conf), "-bV"], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise AssertionError(f"Exim refused the test configuration: {check.stdout}{check.stderr}")
    # -bdf: daemon in the foreground; -q1s: a queue run every second (retries after a 4xx).
    proc = await asyncio.create_subprocess_exec(
        binary,
        "-C",
        str(conf),
        "-bdf",
        "-q1s",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await _listening(port, proc)
        yield Exim(port, home, home / "cert.pem")
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


async def _listening(port: int, proc: asyncio.subprocess.Process) -> None:
    for _ in range(200):
        if proc.returncode is not None:
            out = await proc.stdout.read() if proc.stdout else b""
            raise AssertionError(f"Exim exited with {proc.returncode}: {out.decode(errors='replace')}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError("Exim did not start listening")
