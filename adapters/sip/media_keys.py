"""Real-RTP calls against pjsua's media I/O queue: which INVITEs hold its keys, and until when.

Pure bookkeeping, no pjsua2 (measured on the pjsua2-python 2.15.1 wheel; a burst of 100 short
calls/s used to abort the whole process). With real RTP (`media="rtp"`) each call opens an RTP
and an RTCP socket, created inside pjsua *before* any callback could refuse the INVITE, and
registers both in the media endpoint's own I/O queue: 64 keys (PJ_IOQUEUE_MAX_HANDLES). A closed
socket's key stays out of the free list for PJ_IOQUEUE_KEY_FREE_DELAY = 500 ms (pjlib
`ioqueue_select.c`, `scan_closing_keys`), and registering with no free key is
`pj_assert(!pj_list_empty(&ioqueue->free_list))`, an abort. The fd count never moves (calls last
milliseconds): the keys run out, not the descriptors. Above about 60 answered calls/s that was
the crash. The default `media="none"` answers with pjsua's loopback media transport: no socket,
no key. With "rtp", `MediaKeys` counts the keys and `onSelectAccount` (the one callback before
the media transport exists; it cannot refuse) holds the INVITE back until its keys are free
(adapters/sip/calls.py).
"""

from __future__ import annotations

from collections.abc import Collection

# The media I/O queue's keys in the wheel (PJ_IOQUEUE_MAX_HANDLES), two a call (RTP and RTCP), a
# few kept spare, and how long a closed socket's key stays unusable: PJ_IOQUEUE_KEY_FREE_DELAY
# (500 ms) plus a margin for our clock.
MEDIA_IOQUEUE_KEYS = 64
_KEYS_PER_CALL = 2
_SPARE_KEYS = 8
KEY_QUARANTINE = 0.6
RTP_CALLS = (MEDIA_IOQUEUE_KEYS - _SPARE_KEYS) // _KEYS_PER_CALL  # calls whose sockets fit: 28


class MediaKeys:
    """Which INVITEs hold media I/O queue keys, and until when (`time.monotonic()`).

    Each INVITE that reaches `onSelectAccount` holds two keys (pjsua creates its sockets right
    after) until KEY_QUARANTINE after its call ends. One entry per INVITE, not per Call-ID: a
    peer that reuses a Call-ID still opens new sockets."""

    def __init__(self, calls: int = RTP_CALLS) -> None:
        self.calls = calls
        self._held: list[tuple[str, float | None]] = []  # (SIP Call-ID, free at; None: in use)

    def wait(self, now: float) -> float:
        """Seconds until one more call's sockets fit (0.0: they fit now)."""
        self._held = [(k, t) for k, t in self._held if t is None or t > now]
        excess = len(self._held) - self.calls + 1
        if excess <= 0:
            return 0.0
        frees = sorted(t for _, t in self._held if t is not None)
        if len(frees) < excess:
            # Not reached: after `settle` only live calls are in use, and max_calls <= `calls`.
            return 0.0
        return frees[excess - 1] - now

    def hold(self, key: str) -> None:
        self._held.append((key, None))

    def release(self, key: str, now: float) -> None:
        """The call ended: its sockets close now, inside this pjsua callback's caller."""
        self._held = [(k, now + KEY_QUARANTINE if k == key and t is None else t) for k, t in self._held]

    def settle(self, live: Collection[str], now: float) -> None:
        """After a loop turn, and before the next INVITE: whatever is not a live call (ended, or
        answered with an error by pjsua, with or without sockets) holds its keys no longer."""
        self._held = [(k, now + KEY_QUARANTINE if t is None and k not in live else t) for k, t in self._held]

    def __len__(self) -> int:
        return len(self._held)
