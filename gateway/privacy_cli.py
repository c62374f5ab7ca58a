"""`callout privacy export | erase | purge`: subject access, erasure and the retention purge from
the command line, on the store named by the settings file (docs/privacy.md)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError, Conflict


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("privacy", help="subject access, erasure and the retention purge")
    cmds = p.add_subparsers(dest="privacy_command", required=True)
    for name, text in (
        ("export", "print every record held about a number as JSON"),
        ("erase", "erase the personal data held about a number"),
        ("purge", "pseudonymise what has outlived its retention"),
    ):
        c = cmds.add_parser(name, help=text)
        c.add_argument("-c", "--config", type=Path, required=True, help="settings file (TOML)")
        c.add_argument("--by", default=None, help="who acts, for the audit trail (default: the OS user)")
        if name in ("export", "erase"):
            c.add_argument("--number", required=True, help="the phone number, as the caller gave it")
        if name == "erase":
            c.add_argument("--reason", required=True, help="why, for the audit trail (e.g. the request's id)")
        if name == "purge":
            c.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")


def run(args: argparse.Namespace) -> int:
    from gateway.api.bodies import normalise_number
    from gateway.config_check import load_checked

    settings = load_checked(args.config)
    number = None
    if args.privacy_command in ("export", "erase"):
        try:
            number = normalise_number(args.number)
        except ValueError as exc:
            raise ConfigError(file="(command line)", problems=[("--number", str(exc))]) from None
    actor = f"cli:{args.by or getpass.getuser()}"
    try:
        result = asyncio.run(_act(settings, args, number, actor))
    except Conflict as exc:
        print(f"callout: {exc}")
        return 1
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


async def _act(settings: Any, args: argparse.Namespace, number: str | None, actor: str) -> dict[str, Any]:
    from gateway.bus import Bus
    from gateway.clock import SystemClock
    from gateway.services.privacy import PrivacyService
    from gateway.store import Store

    clock = SystemClock()
    async with Store(settings.store.resolved_url(), bus=Bus(), clock=clock) as store:
        service = PrivacyService(settings, store, clock)
        if args.privacy_command == "export":
            assert number is not None
            return await service.export(number, actor=actor)
        if args.privacy_command == "erase":
            assert number is not None
            return await service.erase(number, reason=args.reason, actor=actor)
        return await service.purge(dry_run=args.dry_run)
