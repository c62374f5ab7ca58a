"""Channel kinds, chosen by the `kind` in config, imported lazily (STYLE.md practice 2), so a
missing optional dependency matters only when a channel of that kind is configured."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adapters.base import Channel
from gateway.errors import ChannelUnavailable


@dataclass(frozen=True, slots=True)
class Kind:
    module: str  # module path; it must define `build(name, options, max_length) -> Channel`
    family: str  # channels of different families fail independently (radio, sms, pager, voice, data)
    hint: str = ""  # what to install when the import fails


KINDS: dict[str, Kind] = {
    "webhook": Kind("adapters.webhook.channel", "data"),
}
Factory = Callable[..., Channel]


def family(kind: str) -> str:
    return KINDS[kind].family if kind in KINDS else kind


def factory(kind: str) -> Factory:
    if kind not in KINDS:
        raise ChannelUnavailable(kind, f"unknown kind; known kinds: {', '.join(sorted(KINDS))}")
    spec = KINDS[kind]
    try:
        module = importlib.import_module(spec.module)
    except ImportError as exc:
        raise ChannelUnavailable(kind, spec.hint or str(exc)) from exc
    build: Factory = module.build
    return build


def validate_options(kind: str, options: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems with a channel's options, as (key, reason), using the kind's own options model."""
    from pydantic import ValidationError

    spec = KINDS.get(kind)
    if spec is None:
        return [("kind", f"unknown channel kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")]
    try:
        module = importlib.import_module(spec.module.rsplit(".", 1)[0] + ".options")
    except ImportError as exc:
        return [("kind", f"channel kind {kind!r} is not available: {spec.hint or exc}")]
    try:
        module.Options(**options)
    except ValidationError as exc:
        return [
            (
                ".".join(str(p) for p in e["loc"]),
                "unknown key" if e["type"] == "extra_forbidden" else e["msg"],
            )
            for e in exc.errors()
        ]
    return []
