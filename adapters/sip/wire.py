"""CTI events as JSON objects between a desk worker process and the pooled source (sans-I/O)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from adapters.cti import CallAnswered, CallEnded, CallOffered, CtiEvent
from adapters.errors import ProtocolError

_KINDS: dict[str, type[CallOffered] | type[CallAnswered] | type[CallEnded]] = {
    "offered": CallOffered,
    "answered": CallAnswered,
    "ended": CallEnded,
}
_NAMES = {v: k for k, v in _KINDS.items()}


class WireError(ProtocolError):
    codec = "sip-worker"


def event_to_dict(event: CtiEvent) -> dict[str, Any]:
    return {"kind": _NAMES[type(event)], **asdict(event)}


def event_from_dict(data: dict[str, Any]) -> CtiEvent:
    fields = dict(data)
    kind = _KINDS.get(str(fields.pop("kind", "")))
    if kind is None:
        raise WireError(f"unknown CTI event kind {data.get('kind')!r}", data=repr(data)[:80])
    try:
        return kind(**fields)
    except TypeError as exc:
        raise WireError(f"bad CTI event: {exc}", data=repr(data)[:80]) from exc
