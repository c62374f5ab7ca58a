"""Callers for a SIP desk: runs sipp (Debian package `sip-tester`) with the scenarios in sip/.

Scenarios (simulators/sip/*.xml; identity from a sipp `-inf` CSV file, see `write_callers`):
- `caller.xml`: INVITE with From and P-Asserted-Identity, waits to be answered, talks for the
  talk time, hangs up (or takes the desk's BYE).
- `abandon.xml`: rings for the ring time, then CANCELs: an abandoned call.
A burst is either scenario at a rate (`-r`, `-m`, `-l`).

As a command (wired by the CLI):
    callout simulate calls --to sip:desk@HOST:PORT --rate 5 --count 100 --caller-prefix 07700
In tests: `async with SippCalls(...) as run: ...; rc = await run.wait()`.

Written from RFC 3261 and sipp's documentation; it imports nothing of adapters.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

SCENARIOS = Path(__file__).resolve().parent / "sip"
INSTALL_HINT = "sipp is not installed: apt-get install sip-tester"
Scenario = Literal["caller", "abandon"]


class SippMissing(RuntimeError):
    def __init__(self, binary: str) -> None:
        super().__init__(f"{binary!r} not found; {INSTALL_HINT}")


@dataclass(frozen=True, slots=True)
class Caller:
    number: str  # From user part
    name: str  # display name
    asserted: str | None = None  # P-Asserted-Identity user part; None: the same as number


@dataclass(frozen=True, slots=True)
class Target:
    user: str  # Request-URI user: the desk, or the number dialled
    host: str
    port: int

    @classmethod
    def parse(cls, uri: str) -> Target:
        """`sip:desk@127.0.0.1:5062` (port 5060 when absent; `[v6]:port` allowed)."""
        scheme, _, rest = uri.partition(":")
        if scheme.lower() not in ("sip", "sips") or not rest:
            raise ValueError(f"not a sip: URI: {uri!r}")
        user, at, hostport = rest.partition("@")
        if not at:
            user, hostport = "desk", user
        hostport = hostport.split(";", 1)[0]
        if hostport.startswith("["):
            host, _, tail = hostport[1:].partition("]")
            port = tail.removeprefix(":")
        else:
            host, _, port = hostport.partition(":")
        if not host:
            raise ValueError(f"no host in {uri!r}")
        return cls(user or "desk", host, int(port) if port else 5060)

    @property
    def sipp_remote(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def callers_from_prefix(prefix: str, count: int, *, width: int = 11) -> list[Caller]:
    """`07700`, 3 -> 07700000001, 07700000002, 07700000003 (numbers `width` digits long)."""
    digits = max(width - len(prefix), len(str(count)))
    return [Caller(f"{prefix}{i:0{digits}d}", f"Caller {i}") for i in range(1, count + 1)]


def write_callers(path: Path, callers: list[Caller]) -> Path:
    """sipp's injection file: SEQUENTIAL, then `number;name;asserted` per call (one row a call)."""
    for c in callers:
        for value in (c.number, c.name, c.asserted or ""):
            if any(ch in value for ch in ';\r\n"<>'):
                raise ValueError(f"unusable character in caller field {value!r}")
    rows = ["SEQUENTIAL"] + [f"{c.number};{c.name};{c.asserted or c.number}" for c in callers]
    path.write_text("\n".join(rows) + "\n", encoding="ascii")
    return path


def sipp_command(
    *,
    target: Target,
    callers_file: Path,
    scenario: Scenario = "caller",
    rate: float = 1.0,
    count: int = 1,
    limit: int | None = None,
    hold_ms: int = 2000,
    local_ip: str | None = None,
    trace_file: Path | None = None,
    timeout_s: float | None = None,
    sipp: str = "sipp",
) -> list[str]:
    """The sipp command line. `hold_ms` is the talk time (caller) or the ring time (abandon)."""
    if rate <= 0 or count < 1 or hold_ms < 1:
        raise ValueError("rate, count and hold_ms must be positive")
    if local_ip is None and target.host in ("127.0.0.1", "localhost", "::1"):
        local_ip = "::1" if target.host == "::1" else "127.0.0.1"
    if timeout_s is None:
        timeout_s = count / rate + hold_ms / 1000 + 30
    cmd = [
        sipp,
        "-sf",
        str(SCENARIOS / f"{scenario}.xml"),
        "-inf",
        str(callers_file),
        "-s",
        target.user,
        "-recv_timeout",
        str(hold_ms),  # talk or ring time: see the scenarios
        "-r",
        f"{rate:g}",
        "-rp",
        "1000",
        "-m",
        str(count),
        "-l",
        str(limit or count),
        "-nostdin",
        "-timeout",
        f"{timeout_s:.0f}s",
        "-timeout_error",
    ]
    if local_ip is not None:
        cmd += ["-i", local_ip]
    if trace_file is not None:
        cmd += ["-trace_msg", "-message_file", str(trace_file)]
    cmd.append(target.sipp_remote)
    return cmd


@dataclass(frozen=True, slots=True)
class Traced:
    """One SIP message from sipp's `-trace_msg` log."""

    at: float  # POSIX seconds
    direction: Literal["sent", "received"]
    first_line: str
    text: str

    def header(self, name: str) -> str | None:
        for line in self.text.splitlines()[1:]:
            key, colon, value = line.partition(":")
            if colon and key.strip().lower() == name.lower():
                return value.strip()
        return None


def read_trace(path: Path) -> list[Traced]:
    """Parse sipp's message log: blocks that start `-----… YYYY-MM-DD HH:MM:SS.ffffff` (local time)."""
    out: list[Traced] = []
    if not path.exists():
        return out
    blocks = path.read_text(encoding="utf-8", errors="replace").split("-" * 47 + " ")
    for block in blocks[1:]:
        stamp, _, rest = block.partition("\n")
        try:
            at = datetime.strptime(stamp.strip(), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        except ValueError:
            continue
        info, _, message = rest.partition("\n\n")
        direction: Literal["sent", "received"] = "sent" if "sent" in info else "received"
        message = message.strip("\n")
        out.append(Traced(at, direction, message.split("\n", 1)[0].strip(), message))
    return out


@dataclass
class SippCalls:
    """sipp as an async context manager: started on enter, stopped (SIGTERM, then kill) on exit."""

    to: str
    callers: list[Caller]
    scenario: Scenario = "caller"
    rate: float = 10.0
    count: int | None = None  # default: one call per caller
    limit: int | None = None
    hold_ms: int = 2000
    local_ip: str | None = None
    trace: bool = False
    timeout_s: float | None = None
    sipp: str = "sipp"
    echo: bool = False  # pass sipp's screen through to stdout
    workdir: Path | None = None
    returncode: int | None = field(default=None, init=False)
    stderr: str = field(default="", init=False)

    async def __aenter__(self) -> Self:
        binary = shutil.which(self.sipp)
        if binary is None:
            raise SippMissing(self.sipp)
        self._tmp = tempfile.TemporaryDirectory(prefix="callout-sipp-")
        work = self.workdir or Path(self._tmp.name)
        self.trace_file = work / "messages.log" if self.trace else None
        callers_file = write_callers(work / "callers.csv", self.callers)
        cmd = sipp_command(
            target=Target.parse(self.to),
            callers_file=callers_file,
            scenario=self.scenario,
            rate=self.rate,
            count=self.count or len(self.callers),
            limit=self.limit,
            hold_ms=self.hold_ms,
            local_ip=self.local_ip,
            trace_file=self.trace_file,
            timeout_s=self.timeout_s,
            sipp=binary,
        )
        self._proc = await asyncio.create_subprocess_exec(
            *cmd,
            cwd=work,  # sipp writes its own logs next to it
            stdin=asyncio.subprocess.DEVNULL,
            stdout=None if self.echo else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # stopped by its owner on exit, not by a terminal's Ctrl-C
        )
        return self

    async def wait(self) -> int:
        """sipp's exit code: 0 every call succeeded, 1 some failed, 97/99 timeout or no call."""
        _, err = await self._proc.communicate()
        self.stderr = err.decode(errors="replace")
        self.returncode = self._proc.returncode
        return int(self._proc.returncode or 0)

    def messages(self) -> list[Traced]:
        return read_trace(self.trace_file) if self.trace_file else []

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(self.wait(), 3)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        self._proc.kill()
                    await self.wait()
        finally:
            self._tmp.cleanup()


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `callout simulate calls`; `main(**options)` takes exactly these names."""
    p.add_argument("--to", required=True, help="the desk, e.g. sip:desk@127.0.0.1:5062")
    p.add_argument("--rate", type=float, default=5.0, help="new calls per second (default 5)")
    p.add_argument("--count", type=int, default=100, help="calls in all (default 100)")
    p.add_argument("--caller-prefix", default="07700", help="caller numbers: prefix + counter, 11 digits")
    p.add_argument("--hold-ms", type=int, default=2000, help="talk time; ring time with --abandon")
    p.add_argument(
        "--limit", type=int, default=None, help="most calls up at once (sipp -l; default: no limit)"
    )
    p.add_argument("--abandon", action="store_true", help="every caller hangs up before answer")
    p.add_argument("--local-ip", default=None, help="sipp's -i (default: 127.0.0.1 for a loopback desk)")
    p.add_argument("--sipp", default="sipp", help="the sipp binary (Debian package sip-tester)")


async def main(
    *,
    to: str,
    rate: float = 5.0,
    count: int = 100,
    caller_prefix: str = "07700",
    hold_ms: int = 2000,
    limit: int | None = None,
    abandon: bool = False,
    local_ip: str | None = None,
    sipp: str = "sipp",
) -> int:
    """`callout simulate calls`: `count` calls at `rate` per second to `to`; sipp's exit code."""
    callers = callers_from_prefix(caller_prefix, count)
    scenario: Scenario = "abandon" if abandon else "caller"
    try:
        run = SippCalls(
            to=to,
            callers=callers,
            scenario=scenario,
            rate=rate,
            limit=limit,
            hold_ms=hold_ms,
            local_ip=local_ip,
            sipp=sipp,
            echo=True,
        )
        async with run:
            print(
                f"sipp: {count} {scenario} calls at {rate:g}/s to {to}, "
                f"numbers {callers[0].number}…{callers[-1].number}",
                flush=True,
            )
            code = await run.wait()
    except SippMissing as exc:
        print(f"callout: {exc}", file=sys.stderr)
        return 2
    if code != 0:
        print(f"sipp exited {code}: {run.stderr.strip()[-500:]}", file=sys.stderr)
    return code
