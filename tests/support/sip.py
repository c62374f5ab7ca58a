"""A pjsua2 desk endpoint on loopback for the SIP CTI source tests (tests only, never shipped)."""

from __future__ import annotations

from typing import Any

from adapters.cti import CtiSource
from adapters.sip.channel import build


def desk(**options: Any) -> CtiSource:
    """The desk as deployed past four calls: desk worker processes behind the SIP front
    (adapters/sip/pool.py); `workers=0` is the in-process desk."""
    return build("sip", {"bind_address": "127.0.0.1", "port": 0, "desk": "desk-1", "workers": 1} | options)
