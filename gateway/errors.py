"""The core's errors on the one error root (docs/style.md practice 5).

The root and the errors adapters raise live in `adapters.errors` (the bottom layer) and are
re-exported here, so the core names every error through this module."""

from __future__ import annotations

from adapters.errors import (
    CalloutError,
    ChannelError,
    ChannelUnavailable,
    Conflict,
    NotFound,
    ProtocolError,
)

__all__ = [
    "CalloutError",
    "ChannelError",
    "ChannelUnavailable",
    "ConfigError",
    "Conflict",
    "IllegalTransition",
    "NotFound",
    "ProtocolError",
    "ValidationFailed",
]


class ConfigError(CalloutError):
    """Invalid configuration: names the file, the key and the reason."""

    def __init__(self, *, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems
        lines = [f"{file}: {key}: {reason}" for key, reason in problems]
        super().__init__("\n".join(lines))


class ValidationFailed(CalloutError):
    """Input that breaks a domain rule; `fields` maps a field name to the reason."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))


class IllegalTransition(CalloutError):
    """A state change that the state machine does not allow."""

    def __init__(self, *, entity: str, key: str | int, current: str, target: str) -> None:
        self.entity = entity
        self.key = key
        self.current = current
        self.target = target
        # str() of a StrEnum is its value: "dispatched", never "<IncidentState.DISPATCHED: ...>".
        super().__init__(f"{entity} {key} is {current}; it cannot move to {target}")
