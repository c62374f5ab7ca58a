"""`callout simulate kiss-tnc`: the TNC simulator standalone, printing what each station hears.

    callout simulate kiss-tnc --pty-link /tmp/kisstnc --tcp-port 8001 \
        --station N0CALL-7 --station N0CALL-8:reply=EN ROUTE --station N0CALL-9:silent \
        --station N0CALL-10:at=51.5074,-0.1278:beacon=30

Point a `kiss_radio` channel at `device = "/tmp/kisstnc"` or at `host = "127.0.0.1"`,
`tcp_port = 8001`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from simulators.kiss_tnc.tnc import KissTnc, Station


def parse_station(spec: str) -> Station:
    """ "CALL[:option[:option...]]" with options silent, reject, reply=TEXT, delay=SECONDS,
    at=LAT,LON (its position), beacon=SECONDS (beacon it that often) and compressed."""
    call, *opts = spec.split(":")
    station = Station(call.strip().upper())
    for opt in opts:
        key, _, value = opt.partition("=")
        if key == "silent":
            station.acks = False
        elif key == "reject":
            station.reject = True
        elif key == "reply" and value:
            station.reply = value
        elif key == "delay" and value:
            station.ack_delay = station.reply_delay = float(value)
        elif key == "at" and value.count(",") == 1:
            lat, lon = value.split(",")
            station.lat, station.lon = float(lat), float(lon)
        elif key == "beacon" and value:
            station.beacon_interval = float(value)
        elif key == "compressed":
            station.compressed = True
        else:
            raise argparse.ArgumentTypeError(f"unknown station option {opt!r} in {spec!r}")
    return station


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pty-link", type=Path, default=None, help="symlink to the pseudo-terminal")
    parser.add_argument("--no-pty", action="store_true", help="TCP only: open no pseudo-terminal")
    parser.add_argument("--tcp-port", type=int, default=None, help="also serve KISS over TCP (8001)")
    parser.add_argument("--tcp-host", default="127.0.0.1")
    parser.add_argument(
        "--station",
        dest="stations",
        action="append",
        type=parse_station,
        default=None,
        help="CALL[:silent|:reject|:reply=TEXT|:delay=S|:at=LAT,LON|:beacon=S|:compressed]; repeatable "
        "(default: N0CALL-7 replying ACK)",
    )
    parser.add_argument("--digipeater", default=None, help="callsign of a digipeater that repeats WIDEn-N")


async def main(
    *,
    pty_link: Path | None = None,
    no_pty: bool = False,
    tcp_port: int | None = None,
    tcp_host: str = "127.0.0.1",
    stations: list[Station] | None = None,
    digipeater: str | None = None,
) -> int:
    stations = stations or [Station("N0CALL-7", reply="ACK", ack_delay=1.0, reply_delay=3.0)]
    tnc = KissTnc(
        stations,
        pty=not no_pty,
        pty_link=pty_link,
        tcp_port=tcp_port,
        tcp_host=tcp_host,
        digipeater=digipeater,
        printer=lambda line: print(line, flush=True),
    )
    async with tnc:
        where = []
        if tnc.pty_path is not None:
            where.append(f"pty {tnc.pty_path}" + (f" (link {pty_link})" if pty_link else ""))
        if tnc.tcp_port is not None:
            where.append(f"tcp {tcp_host}:{tnc.tcp_port}")
        names = ", ".join(s.callsign for s in tnc.stations.values())
        print(f"kiss-tnc on {' and '.join(where) or 'nothing'}; stations: {names}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # leave no stale --pty-link behind
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    return 0
