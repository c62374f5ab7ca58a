"""The `callout` command: run, check-config, demo, simulate, token, privacy."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.errors import CalloutError, ConfigError

EXIT_CONFIG = 2


def _parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callout", description="Telephony and radio dispatch gateway.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("-c", "--config", type=Path, required=True, help="settings file (TOML)")
    chk = sub.add_parser("check-config", help="validate a settings file and warn about fragile set-ups")
    chk.add_argument("config", type=Path)
    chk.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    demo = sub.add_parser("demo", help="the daemon on embedded defaults with simulated field devices")
    demo.add_argument("--port", type=int, default=8080, help="API port (0: any free port)")
    demo.add_argument("--data-dir", type=Path, default=None, help="where the demo keeps its SQLite file")
    demo.add_argument(
        "--fresh",
        action="store_true",
        help="start from an empty store: remove the demo's SQLite file from earlier runs first",
    )
    demo.add_argument("--incidents", type=int, default=0, help="stop after this many sample incidents")
    demo.add_argument("--interval", type=float, default=8.0, help="seconds between sample incidents")
    demo.add_argument(
        "--broker",
        default=None,
        help="MQTT broker for the radio fleet (default: demo settings; "
        "a private mosquitto when none answers)",
    )
    tok = sub.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    new = tok.add_parser("new", help="make a token: prints it once, and the line for the settings file")
    new.add_argument("--name", required=True, help="who or what holds it (a desk, a wallboard)")
    new.add_argument("--role", required=True, choices=["viewer", "dispatcher", "supervisor", "engineer"])
    from gateway.privacy_cli import add_parsers as add_privacy

    add_privacy(sub)
    sim = sub.add_parser("simulate", help="run one device simulator standalone")
    if "simulate" in (argv or []):  # simulators are imported only when one is asked for
        from gateway.demo.simulate import add_parsers

        add_parsers(sim.add_subparsers(dest="device", required=True, metavar="DEVICE"))
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser(argv).parse_args(argv)
    try:
        if args.command == "check-config":
            return _check(args.config, strict=args.strict)
        if args.command == "run":
            return _run(args.config)
        if args.command == "demo":
            from gateway.demo.run import run_demo

            return asyncio.run(
                run_demo(
                    port=args.port,
                    data_dir=args.data_dir,
                    incidents=args.incidents,
                    interval=args.interval,
                    fresh=args.fresh,
                    broker=args.broker,
                )
            )
        if args.command == "token":
            return _new_token(args.name, args.role)
        if args.command == "privacy":
            from gateway.privacy_cli import run as privacy

            return privacy(args)
        if args.command == "simulate":
            from gateway.demo.simulate import run as simulate

            return simulate(args)
    except ConfigError as exc:
        print(f"callout: invalid configuration\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except CalloutError as exc:
        print(f"callout: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


def _check(path: Path, *, strict: bool) -> int:
    from gateway.config_check import load_checked, warnings

    settings = load_checked(path)
    found = warnings(settings)
    for w in found:
        print(f"warning: {path}: {w}")
    print(
        f"{path}: ok ({len(settings.channels)} channels, {len(settings.resources)} resources, "
        f"{len(settings.stakeholders)} stakeholders)"
    )
    return 1 if (strict and found) else 0


def _new_token(name: str, role: str) -> int:
    import json

    from gateway.api.tokens import new_token

    token, hashed = new_token()
    print(f"token (shown once; give it to {name}): {token}")
    print("add to [api] tokens in the settings file:")
    print(f"  {{ name = {json.dumps(name)}, role = {json.dumps(role)}, token_hash = {json.dumps(hashed)} }},")
    return 0


def _run(path: Path) -> int:
    from gateway import logs
    from gateway.config_check import load_checked, warnings
    from gateway.daemon import serve

    settings = load_checked(path)
    logs.configure(settings.logging.level, json_format=settings.logging.json_format)
    import logging

    for w in warnings(settings):
        logging.getLogger("callout").warning("%s: %s", path, w)
    return asyncio.run(serve(settings))


if __name__ == "__main__":
    sys.exit(main())
