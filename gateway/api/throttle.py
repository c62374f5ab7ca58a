"""Failed authentication throttled per client address.

Every failed credential (a wrong API token, a wrong inbound channel secret, a bad CTI signature,
a provider callback refused for its signature) counts against the client's address. An address
with `api.auth_failures_per_minute` failures in the last 60 seconds is answered 429 with
`Retry-After` on every request that presents credentials, right or wrong, until its oldest
failure leaves the window: a guesser cannot keep guessing by mixing in a good token.

Pure bookkeeping: times are passed in, nothing here reads a clock (docs/style.md practice 7).
"""

from __future__ import annotations

import math
from collections import deque

WINDOW = 60.0
MAX_ADDRESSES = 10_000  # tracked at once; the stalest are forgotten first


class FailureThrottle:
    def __init__(self, limit: int, window: float = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[address]
            return None
        return times

    def retry_after(self, address: str, now: float) -> int:
        """Whole seconds until `address` may try again (0: it may now)."""
        times = self._recent(address, now)
        if times is None or len(times) < self.limit:
            return 0
        return max(1, math.ceil(times[-self.limit] + self.window - now))

    def failed(self, address: str, now: float) -> None:
        times = self._recent(address, now)
        if times is None:
            if len(self._failures) >= MAX_ADDRESSES:
                stalest = min(self._failures, key=lambda a: self._failures[a][-1])
                del self._failures[stalest]
            times = self._failures[address] = deque(maxlen=self.limit)
        times.append(now)
