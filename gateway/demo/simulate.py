"""`callout simulate <device>`: one device simulator standalone, for engineers at their desks.

Each simulator module offers `add_arguments(parser)` and either `run(args)` (sync or async) or
`async main(**options) -> int`; they are imported only when `simulate` is the command, so the
daemon never loads them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
from typing import Any

# device -> (module, one line of help)
SIMULATORS: dict[str, tuple[str, str]] = {
    "field-app": ("simulators.field_app", "HTTP field-crew app: receives webhook messages and replies"),
    "radio-fleet": ("simulators.radio_fleet.cli", "a fleet of radios on an MQTT broker"),
    "kiss-tnc": ("simulators.kiss_tnc", "KISS TNC with APRS stations on a pseudo-terminal and TCP"),
    "gsm-modem": ("simulators.gsm_modem.cli", "GSM modem (AT commands, SMS PDUs) on a pty and TCP"),
    "smsc": ("simulators.smsc", "SMSC speaking SMPP 3.4 over TCP"),
    "sms-http": ("simulators.sms_http_provider", "HTTP SMS provider with signed callbacks"),
    "calls": ("simulators.sip_calls", "SIP callers (runs sipp) calling the desk endpoint"),
    "phone": ("simulators.sip_phone", "SIP phones that answer voice callouts, record audio, press DTMF keys"),
    "ami": ("simulators.ami_server", "Asterisk Manager Interface server playing call events"),
    "tap-terminal": ("simulators.tap_terminal", "TAP 1.8 paging terminal on a pseudo-terminal and TCP"),
    "snpp": ("simulators.snpp_server", "SNPP (RFC 1861) paging server"),
    "mail": ("simulators.mail_server", "mail domain: SMTP in, replies and bounces (DSN) out, faults"),
}


def add_parsers(sub: Any) -> None:
    """Add one sub-command per simulator to the `simulate` parser's subparsers."""
    for device, (module, help_text) in SIMULATORS.items():
        p = sub.add_parser(device, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(SIMULATORS[args.device][0])
    if hasattr(module, "run"):
        result = module.run(args)
        code: int = asyncio.run(result) if inspect.iscoroutine(result) else result
        return code
    options = {k: v for k, v in vars(args).items() if k not in ("command", "device")}
    main_code: int = asyncio.run(module.main(**options))
    return main_code
