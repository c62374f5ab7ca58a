"""A pjsua2 desk endpoint on loopback for the SIP CTI source tests (tests only, never shipped)."""

from __future__ import annotations

from typing import Any

from adapters.cti import CtiSource
from adapters.sip.channel import build


def desk(**options: Any) -> CtiSource:
    return build("sip", {"bind_address": "127.0.0.1", "port": 0, "desk": "desk-1"} | options)
