"""The error root and the errors adapters own (docs/style.md practice 5).

They live at the bottom of the layers so that adapters never import the core; `gateway.errors`
re-exports them and adds the core's own. Every error carries data, not just a message.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CalloutError",
    "ChannelError",
    "ChannelUnavailable",
    "Conflict",
    "NotFound",
    "ProtocolError",
]


class CalloutError(Exception):
    """Root of every error callout raises on purpose."""


class NotFound(CalloutError):
    def __init__(self, what: str, key: str | int) -> None:
        self.what = what
        self.key = key
        super().__init__(f"{what} {key!r} not found")


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


def _excerpt(data: bytes | str, limit: int = 32) -> str:
    shown = data[:limit]
    text = repr(shown)
    return text + ("…" if len(data) > limit else "")


class ProtocolError(CalloutError, ValueError):
    """Bytes or text that break a wire protocol: the one root of every codec's error.

    `codec` names the codec (``"smpp"``, ``"tap"``, ``"at"`` …), `problem` says what was wrong,
    `data` holds the offending input in short (at most `limit` bytes are shown in the message).
    It is a `ValueError` too, so code that guards a parse with ``except ValueError`` keeps working.
    """

    codec: str = "protocol"

    def __init__(self, problem: str, *, data: bytes | str = b"", codec: str | None = None) -> None:
        if codec is not None:
            self.codec = codec
        self.problem = problem
        self.data = data[:64]
        shown = f" in {_excerpt(data)}" if data else ""
        super().__init__(f"{self.codec}: {problem}{shown}")
