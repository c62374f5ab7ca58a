"""Back-off for every retry, as pure functions and generators (no sleeping, no clock), so tests
need no clock and can seed the random source (docs/style.md).

- `reconnect_delays`: the reconnect back-off every adapter uses.
- `retry_delay` / `backoff`: the delivery engine's retry delays, capped exponential with
  multiplicative jitter.
"""

from __future__ import annotations

import itertools
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


def _check(*, base: float, factor: float, cap: float, jitter: float) -> None:
    if base < 0:
        raise ValueError(f"base must be >= 0, got {base}")
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    if cap < 0:
        raise ValueError(f"cap must be >= 0, got {cap}")
    if not 0 <= jitter <= 1:
        raise ValueError(f"jitter must be between 0 and 1, got {jitter}")


def retry_delay(
    tries: int, *, base: float, factor: float, cap: float, jitter: float, rng: random.Random
) -> float:
    """Seconds to wait before retry number `tries` (1 = the first retry).

    min(cap, base * factor ** (tries - 1)), multiplied by a uniform factor in
    [1 - jitter, 1 + jitter]; the result is never negative and never above cap * (1 + jitter).
    """
    if tries < 1:
        raise ValueError(f"tries must be >= 1, got {tries}")
    _check(base=base, factor=factor, cap=cap, jitter=jitter)
    try:
        raw = base * float(factor) ** (tries - 1)
    except OverflowError:
        raw = cap
    delay = min(cap, raw) * rng.uniform(1.0 - jitter, 1.0 + jitter)
    # uniform() may round onto (or just past) its upper end; clamp to the documented bounds.
    return max(0.0, min(delay, cap * (1.0 + jitter)))


def backoff(*, base: float, factor: float, cap: float, jitter: float, rng: random.Random) -> Iterator[float]:
    """An endless iterator of the delays before retry 1, 2, 3, … (same as `retry_delay`).

    Arguments are checked now, not on the first `next()`.
    """
    _check(base=base, factor=factor, cap=cap, jitter=jitter)
    return (
        retry_delay(tries, base=base, factor=factor, cap=cap, jitter=jitter, rng=rng)
        for tries in itertools.count(1)
    )
