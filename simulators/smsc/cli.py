"""`callout simulate smsc`: the simulated SMSC standalone."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Literal

from simulators.smsc.server import Smsc


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `callout simulate smsc`."""
    p.add_argument("--port", type=int, default=2775)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--system-id", default="callout")
    p.add_argument("--password", default="secret")
    p.add_argument("--window", type=int, default=None, help="outstanding submit_sm allowed per session")
    p.add_argument("--rate", type=float, default=None, help="submit_sm per second (token bucket)")
    p.add_argument("--burst", type=float, default=5.0, help="token bucket size")
    p.add_argument("--submit-delay", type=float, default=0.0, help="seconds before each submit_sm_resp")
    p.add_argument("--receipt-delay", type=float, default=1.0, help="seconds before each receipt")
    p.add_argument("--duplicates", type=int, default=0, help="extra copies of every receipt")
    p.add_argument("--id-radix", choices=("dec", "hex"), default="dec", help="message id in receipt text")
    p.add_argument("--receipt-format", choices=("tlv+text", "text", "tlv"), default="tlv+text")
    p.add_argument("--reply", default="", help="text each handset sends back after delivery (e.g. ACK)")


async def main(
    *,
    port: int = 2775,
    host: str = "127.0.0.1",
    system_id: str = "callout",
    password: str = "secret",  # noqa: S107 (the simulator's demo account)
    window: int | None = None,
    rate: float | None = None,
    burst: float = 5.0,
    submit_delay: float = 0.0,
    receipt_delay: float = 1.0,
    duplicates: int = 0,
    id_radix: Literal["dec", "hex"] = "dec",
    receipt_format: Literal["tlv+text", "text", "tlv"] = "tlv+text",
    reply: str = "",
) -> int:
    smsc = Smsc(
        port=port,
        host=host,
        accounts={system_id: password},
        window=window,
        rate=rate,
        burst=burst,
        submit_delay=submit_delay,
        receipt_delay=receipt_delay,
        duplicates=duplicates,
        id_radix=id_radix,
        receipt_format=receipt_format,
        auto_reply=reply,
        echo=True,
    )
    async with smsc:
        print(f"smsc listening on {host}:{smsc.port} (system_id {system_id!r})", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
    return 0
