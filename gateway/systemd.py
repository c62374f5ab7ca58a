"""systemd service notifications (sd_notify) with a plain UNIX datagram socket, no dependency.

The protocol (systemd manual, sd_notify(3)): the service manager passes `$NOTIFY_SOCKET`, a path
or, starting with "@", an abstract socket name; the service sends newline-separated assignments
such as `READY=1`, `STATUS=…`, `STOPPING=1` and `WATCHDOG=1` as one datagram each. With
`WatchdogSec=` the manager also passes `$WATCHDOG_USEC` (and `$WATCHDOG_PID`, the process meant);
the service must send `WATCHDOG=1` more often than that, or it is killed and restarted
(sd_watchdog_enabled(3) advises half the interval). Without `$NOTIFY_SOCKET` nothing is sent."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def notify(state: str, *, env: Mapping[str, str] | None = None) -> bool:
    """Send one notification; True if a service manager was there to receive it."""
    env = os.environ if env is None else env
    address = env.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket: a leading NUL byte instead of "@"
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode(), address)
    except OSError as exc:
        log.warning("sd_notify: cannot reach the service manager: %s", exc)
        return False
    return True


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between `WATCHDOG=1` pings (half of `$WATCHDOG_USEC`), or None when not asked."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000 / 2


async def watchdog(interval: float) -> None:
    """Ping the service manager until cancelled: a loop that stops answering stops the pings."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)
