"""One error root for callout, with subclasses that carry data (STYLE.md practice 5)."""

from __future__ import annotations

from typing import Any


class CalloutError(Exception):
    """Root of every error callout raises on purpose."""


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


class NotFound(CalloutError):
    def __init__(self, what: str, key: str | int) -> None:
        self.what = what
        self.key = key
        super().__init__(f"{what} {key!r} not found")


class IllegalTransition(CalloutError):
    """A state change that the state machine does not allow."""

    def __init__(self, *, entity: str, key: str | int, current: str, target: str) -> None:
        self.entity = entity
        self.key = key
        self.current = current
        self.target = target
        super().__init__(f"{entity} {key}: cannot go from {current!r} to {target!r}")


class Conflict(CalloutError):
    """The request is valid but clashes with the current state (e.g. nothing to dispatch)."""


class ChannelError(CalloutError):
    """A failed send. `temporary` says whether to retry on the same channel or move on."""

    def __init__(
        self,
        reason: str,
        *,
        channel: str = "",
        endpoint: str = "",
        temporary: bool,
        evidence: dict[str, Any] | None = None,
    ) -> None:
        self.reason = reason
        self.channel = channel
        self.endpoint = endpoint
        self.temporary = temporary
        self.evidence = evidence or {}
        kind = "temporary" if temporary else "permanent"
        super().__init__(f"{channel or 'channel'}: {kind} failure: {reason}")


class ChannelUnavailable(CalloutError):
    """A channel kind is configured whose optional dependency is not installed."""

    def __init__(self, kind: str, hint: str) -> None:
        self.kind = kind
        self.hint = hint
        super().__init__(f"channel kind {kind!r} is not available: {hint}")
