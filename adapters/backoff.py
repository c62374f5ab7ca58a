"""Reconnect back-off for every adapter: a pure generator, so tests need no clock (STYLE.md)."""

from __future__ import annotations

import random
from collections.abc import Iterator


def reconnect_delays(
    *, first: float, cap: float, factor: float = 2.0, jitter: float = 0.0, rng: random.Random | None = None
) -> Iterator[float]:
    """Endless delays before reconnect 1, 2, 3, …: ``first * factor**n`` capped at ``cap``, each
    multiplied by a uniform factor in [1 - jitter, 1 + jitter]. The random source is given (a
    seeded one by default), so the sequence is reproducible."""
    if first <= 0 or cap < first or factor < 1 or not 0 <= jitter <= 1:
        raise ValueError("need 0 < first <= cap, factor >= 1 and 0 <= jitter <= 1")
    source = rng or random.Random(0)
    delay = first
    while True:
        yield max(0.0, delay * source.uniform(1 - jitter, 1 + jitter)) if jitter else delay
        delay = min(cap, delay * factor)
