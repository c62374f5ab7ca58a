"""Command line of the radio fleet: `add_arguments` fills a parser, `run` starts `main`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when the fleet runs: building the parser needs no aiomqtt
    from simulators.radio_fleet.fleet import Faults


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="mqtt://host:port or mqtts://…")
    p.add_argument("--count", type=int, default=50, help="radios R1..R<count>")
    p.add_argument("--prefix", default="callout", help="topic prefix (the channel's `prefix`)")
    p.add_argument("--connections", type=int, default=1, help="MQTT connections (gateways) to use")
    p.add_argument("--name", default="radio-fleet", help="client id / gateway id base")
    p.add_argument("--ack-delay", type=float, default=1.5, help="seconds before a radio acks")
    p.add_argument("--walk-delay", type=float, default=5.0, help="seconds between status steps")
    p.add_argument("--no-walk", action="store_true", help="no en route / on scene / clear")
    p.add_argument(
        "--group", action="append", default=[], metavar="TG=R1,R2", help="talkgroup members (repeat)"
    )
    p.add_argument("--offline", default="", metavar="R1,R2", help="radios that start offline")
    p.add_argument("--drop", type=float, default=0.0, help="share of messages lost (0..1)")
    p.add_argument("--delay", type=float, default=0.0, help="extra seconds before every uplink")
    p.add_argument("--duplicate", type=float, default=0.0, help="share of uplinks sent twice")
    p.add_argument("--never-ack", action="store_true", help="receipts only, never an ack")
    p.add_argument("--garble", type=float, default=0.0, help="share of uplinks replaced by garbage")
    p.add_argument("--username", default=None)
    p.add_argument("--password", default=None)
    p.add_argument("--ca-file", default=None, help="CA to trust for mqtts://")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: never)")
    p.add_argument("--quiet", action="store_true", help="do not print each received message")


def _groups(specs: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spec in specs:
        name, _, members = spec.partition("=")
        if not name or not members:
            raise SystemExit(f"--group wants TG=R1,R2, got {spec!r}")
        out[name] = [m for m in members.split(",") if m]
    return out


async def main(
    *,
    broker: str = "mqtt://127.0.0.1:1883",
    count: int = 50,
    prefix: str = "callout",
    connections: int = 1,
    name: str = "radio-fleet",
    ack_delay: float = 1.5,
    walk_delay: float | None = 5.0,
    groups: dict[str, list[str]] | None = None,
    offline: list[str] | None = None,
    faults: Faults | None = None,
    username: str | None = None,
    password: str | None = None,
    ca_file: str | None = None,
    seed: int = 0,
    duration: float = 0.0,
    quiet: bool = False,
) -> int:
    """Run a fleet until cancelled (or for `duration` s), printing what each radio receives."""
    from simulators.radio_fleet.fleet import Faults, RadioFleet

    base = faults or Faults()
    fleet = RadioFleet(
        broker=broker,
        count=count,
        prefix=prefix,
        connections=connections,
        name=name,
        ack_delay=ack_delay,
        walk_delay=walk_delay,
        groups=groups,
        faults=base,
        radio_faults={r: dataclasses.replace(base, offline=True) for r in offline or []},
        username=username,
        password=password,
        tls_ca_file=ca_file,
        seed=seed,
        echo=None if quiet else (lambda line: print(line, flush=True)),
    )
    async with fleet:
        print(
            f"radio fleet {name}: {len(fleet.radios)} radios on {broker}, prefix {prefix!r}, "
            f"{len(fleet.groups)} talkgroups",
            flush=True,
        )
        stop = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(duration or None):
                await stop.wait()
        s = fleet.stats
        print(f"received {s.received}, duplicates {s.duplicates}, uplinks {s.uplinks}", flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    from simulators.radio_fleet.fleet import Faults

    faults = Faults(
        drop=args.drop,
        delay=args.delay,
        duplicate=args.duplicate,
        never_ack=args.never_ack,
        garble=args.garble,
    )
    try:
        return asyncio.run(
            main(
                broker=args.broker,
                count=args.count,
                prefix=args.prefix,
                connections=args.connections,
                name=args.name,
                ack_delay=args.ack_delay,
                walk_delay=None if args.no_walk else args.walk_delay,
                groups=_groups(args.group),
                offline=[r for r in args.offline.split(",") if r],
                faults=faults,
                username=args.username,
                password=args.password,
                ca_file=args.ca_file,
                seed=args.seed,
                duration=args.duration,
                quiet=args.quiet,
            )
        )
    except (ConnectionError, ValueError) as exc:
        print(f"radio fleet: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
