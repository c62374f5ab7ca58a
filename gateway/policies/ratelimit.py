"""Sliding-window rate limits per (channel, address).

A limit allows at most `count` sends to one address on one channel within any `per_seconds`
window; a limit whose channel is "*" applies on every channel (still counted per channel and
address). Every matching limit must allow a send, so the most restrictive one decides. Time is
passed in by the caller; nothing here reads a clock.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from gateway.settings import RateLimit

ANY_CHANNEL = "*"


class RateLimiter:
    def __init__(self, limits: Iterable[RateLimit]) -> None:
        self._limits: tuple[RateLimit, ...] = tuple(limits)
        # Nothing older than the longest window can ever matter again.
        self._horizon = max((lim.per_seconds for lim in self._limits), default=0.0)
        self._sent: dict[tuple[str, str], list[float]] = {}
        self._swept_at: float | None = None

    def _matching(self, channel: str) -> list[RateLimit]:
        return [lim for lim in self._limits if lim.channel in (ANY_CHANNEL, channel)]

    def reserve(self, channel: str, address: str, now: float) -> float:
        """0.0 if a send is allowed now (and records it); else the seconds until one would be.

        When the answer is not 0.0 nothing is recorded, so the caller asks again later.
        """
        self._sweep(now)
        limits = self._matching(channel)
        if not limits:
            return 0.0
        key = (channel, address)
        sent = self._sent.get(key, [])
        del sent[: bisect.bisect_right(sent, now - self._horizon)]
        wait = 0.0
        for lim in limits:
            in_window = len(sent) - bisect.bisect_right(sent, now - lim.per_seconds)
            if in_window >= lim.count:
                # The send that has to leave the window before one more fits in.
                blocking = sent[len(sent) - lim.count]
                wait = max(wait, blocking + lim.per_seconds - now)
        if wait > 0.0:
            return wait
        bisect.insort(sent, now)
        self._sent[key] = sent
        return 0.0

    def _sweep(self, now: float) -> None:
        """Once per horizon, forget every send older than the longest window, and empty keys."""
        if self._swept_at is not None and now - self._swept_at < self._horizon:
            return
        self._swept_at = now
        cutoff = now - self._horizon
        for key in list(self._sent):
            sent = self._sent[key]
            del sent[: bisect.bisect_right(sent, cutoff)]
            if not sent:
                del self._sent[key]

    @property
    def tracked(self) -> int:
        """How many past sends are remembered (for tests and metrics)."""
        return sum(len(sent) for sent in self._sent.values())
