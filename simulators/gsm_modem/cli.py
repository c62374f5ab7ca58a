"""`callout simulate gsm-modem`: one simulated modem on a pty (and optionally TCP), printing every
message it sends for a client, optionally answering each with a reply SMS."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

from simulators.gsm_modem.device import Faults, GsmModem, Received, ReportPlan


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `callout simulate gsm-modem`; `main(**vars(args))` takes them."""
    p.add_argument("--pty-link", type=Path, default=None, help="symlink to the pty slave (e.g. /tmp/ttySIM0)")
    p.add_argument("--tcp-port", type=int, default=None, help="also listen on this TCP port (0: any)")
    p.add_argument("--host", default="127.0.0.1", help="TCP address to listen on")
    p.add_argument("--latency", type=float, default=0.5, help="seconds between Ctrl-Z and +CMGS")
    p.add_argument("--reset-silence", type=float, default=2.0, help="seconds silent after ATZ/CFUN=1,1")
    p.add_argument("--report-delay", type=float, default=1.0, help="seconds until a status report")
    p.add_argument("--report-status", type=lambda v: int(v, 0), default=0, help="TP-ST of reports (0x00)")
    p.add_argument("--sim", default="READY", choices=["READY", "SIM PIN", "SIM PUK", "NOT INSERTED"])
    p.add_argument("--pin", default="1234", help="PIN accepted by AT+CPIN")
    p.add_argument("--registration", type=int, default=1, choices=range(6), help="+CREG <stat>")
    p.add_argument("--cms-error", type=int, default=None, help="answer every send with this +CMS ERROR")
    p.add_argument("--cms-error-rate", type=float, default=0.0, help="probability of a random +CMS ERROR")
    p.add_argument("--reply", default="", help="answer every message with this SMS (e.g. ACK)")
    p.add_argument("--reply-delay", type=float, default=3.0, help="seconds before the reply")


async def main(
    *,
    pty_link: Path | None = None,
    tcp_port: int | None = None,
    host: str = "127.0.0.1",
    latency: float = 0.5,
    reset_silence: float = 2.0,
    report_delay: float = 1.0,
    report_status: int = 0,
    sim: str = "READY",
    pin: str = "1234",
    registration: int = 1,
    cms_error: int | None = None,
    cms_error_rate: float = 0.0,
    reply: str = "",
    reply_delay: float = 3.0,
) -> int:
    replies: asyncio.Queue[Received] = asyncio.Queue()

    def show(msg: Received) -> None:
        print(f"[gsm-modem] SMS to {msg.destination} (TP-MR {msg.mrs}): {msg.text}", flush=True)
        if reply:
            replies.put_nowait(msg)

    modem = GsmModem(
        pty_link=pty_link,
        tcp_port=tcp_port,
        host=host,
        sim=sim,
        pin=pin,
        registration=registration,
        send_latency=latency,
        reset_silence=reset_silence,
        report=ReportPlan(status=report_status, delay=report_delay),
        faults=Faults(cms_error=cms_error, cms_error_rate=cms_error_rate),
        on_message=show,
    )
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    if task is not None:  # SIGTERM ends it like Ctrl-C: the pty link is removed on the way out
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await _serve(modem, replies, reply, reply_delay, where_tcp=tcp_port is not None)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def _serve(
    modem: GsmModem, replies: asyncio.Queue[Received], reply: str, reply_delay: float, *, where_tcp: bool
) -> int:
    async with modem:
        where = f"pty {modem.device}" + (f" (link {modem.pty_link})" if modem.pty_link else "")
        if where_tcp:
            where += f", TCP {modem.host}:{modem.port}"
        print(f"[gsm-modem] listening on {where}", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                msg = await replies.get()
                await asyncio.sleep(reply_delay)
                modem.deliver(msg.destination, reply)
                print(f"[gsm-modem] SMS from {msg.destination}: {reply}", flush=True)
    return 0
