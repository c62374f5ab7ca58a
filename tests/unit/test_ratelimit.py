"""Sliding-window rate limits per (channel, address); time is passed in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.policies.ratelimit import RateLimiter
from gateway.settings import RateLimit


def test_no_limits_always_allows() -> None:
    limiter = RateLimiter([])
    assert all(limiter.reserve("sms", "+15550100", now=0.0) == 0.0 for _ in range(100))
    assert limiter.tracked == 0


def test_sliding_window_allows_count_then_says_how_long_to_wait() -> None:
    limiter = RateLimiter([RateLimit(channel="sms", count=2, per_seconds=10)])
    assert limiter.reserve("sms", "a", now=0.0) == 0.0
    assert limiter.reserve("sms", "a", now=1.0) == 0.0
    assert limiter.reserve("sms", "a", now=2.0) == 8.0
    assert limiter.reserve("sms", "a", now=9.5) == 0.5
    assert limiter.reserve("sms", "a", now=10.0) == 0.0
    # Window now holds the sends at 1 and 10.
    assert limiter.reserve("sms", "a", now=10.5) == 0.5
    assert limiter.reserve("sms", "a", now=11.0) == 0.0


def test_a_refused_send_is_not_recorded() -> None:
    limiter = RateLimiter([RateLimit(count=1, per_seconds=10)])
    assert limiter.reserve("sms", "a", now=0.0) == 0.0
    for t in range(1, 10):
        assert limiter.reserve("sms", "a", now=float(t)) == 10.0 - t
    assert limiter.tracked == 1
    assert limiter.reserve("sms", "a", now=10.0) == 0.0


def test_each_address_and_channel_has_its_own_window() -> None:
    limiter = RateLimiter([RateLimit(count=1, per_seconds=60)])
    assert limiter.reserve("sms", "a", now=0.0) == 0.0
    assert limiter.reserve("sms", "b", now=0.0) == 0.0
    assert limiter.reserve("pager", "a", now=0.0) == 0.0
    assert limiter.reserve("sms", "a", now=1.0) == 59.0


def test_a_channel_limit_applies_only_to_that_channel() -> None:
    limiter = RateLimiter([RateLimit(channel="pager", count=1, per_seconds=30)])
    assert limiter.reserve("pager", "a", now=0.0) == 0.0
    assert limiter.reserve("pager", "a", now=0.0) == 30.0
    assert [limiter.reserve("sms", "a", now=0.0) for _ in range(5)] == [0.0] * 5


def test_wildcard_applies_to_every_channel() -> None:
    limiter = RateLimiter([RateLimit(channel="*", count=2, per_seconds=60)])
    for channel in ("sms", "pager", "radio"):
        assert limiter.reserve(channel, "a", now=0.0) == 0.0
        assert limiter.reserve(channel, "a", now=0.0) == 0.0
        assert limiter.reserve(channel, "a", now=0.0) == 60.0


def test_the_most_restrictive_matching_limit_wins() -> None:
    limiter = RateLimiter(
        [RateLimit(channel="*", count=5, per_seconds=60), RateLimit(channel="sms", count=1, per_seconds=10)]
    )
    assert limiter.reserve("sms", "a", now=0.0) == 0.0
    assert limiter.reserve("sms", "a", now=1.0) == 9.0
    assert [limiter.reserve("pager", "a", now=1.0) for _ in range(6)] == [0.0] * 5 + [60.0]


def test_the_longer_wait_of_two_blocking_limits_is_returned() -> None:
    limiter = RateLimiter([RateLimit(count=1, per_seconds=10), RateLimit(count=3, per_seconds=100)])
    assert [limiter.reserve("sms", "a", now=t) for t in (0.0, 10.0, 20.0)] == [0.0, 0.0, 0.0]
    assert limiter.reserve("sms", "a", now=25.0) == 75.0


def test_memory_is_bounded_by_the_longest_window() -> None:
    limiter = RateLimiter(
        [RateLimit(count=1, per_seconds=10), RateLimit(channel="sms", count=5, per_seconds=5)]
    )
    for i in range(5000):
        assert limiter.reserve("sms", f"+1555{i:07d}", now=float(i)) == 0.0
        assert limiter.tracked <= 21
    assert limiter.reserve("sms", "+15550004999", now=5000.0) == 9.0


times = st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=60).map(
    lambda steps: [float(sum(steps[: i + 1])) for i in range(len(steps))]
)


@given(
    times=times,
    count=st.integers(min_value=1, max_value=4),
    per=st.integers(min_value=1, max_value=20),
    addresses=st.lists(st.sampled_from(["a", "b"]), min_size=60, max_size=60),
)
def test_recorded_sends_never_exceed_the_limit_and_waits_are_exact(
    times: list[float], count: int, per: int, addresses: list[str]
) -> None:
    limiter = RateLimiter([RateLimit(count=count, per_seconds=per)])
    granted: dict[str, list[float]] = {"a": [], "b": []}
    for now, address in zip(times, addresses, strict=False):
        wait = limiter.reserve("sms", address, now=now)
        recent = [t for t in granted[address] if t > now - per]
        if len(recent) < count:
            assert wait == 0.0
            granted[address].append(now)
        else:
            assert wait == recent[-count] + per - now
            assert wait > 0.0
            # Nothing else happens to this key, so asking again after the wait succeeds.
            probe = RateLimiter([RateLimit(count=count, per_seconds=per)])
            for t in recent:
                assert probe.reserve("sms", address, now=t) == 0.0
            assert probe.reserve("sms", address, now=now + wait) == 0.0
