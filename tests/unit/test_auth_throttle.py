"""The failed-credential throttle as pure bookkeeping: times passed in, no clock, no sleeping."""

from __future__ import annotations

from gateway.api.throttle import FailureThrottle


def test_the_limit_holds_an_address_until_its_oldest_failure_leaves_the_window() -> None:
    t = FailureThrottle(limit=3, window=60)
    for at in (0.0, 10.0, 20.0):
        assert t.retry_after("a", at) == 0
        t.failed("a", at)
    assert t.retry_after("a", 20.5) == 40  # the failure at 0 leaves at 60
    assert t.retry_after("b", 20.5) == 0  # other addresses are not held
    assert t.retry_after("a", 60.0) == 0
    t.failed("a", 61.0)
    assert t.retry_after("a", 61.0) == 9  # failures at 10, 20, 61: held until 70


def test_failures_spread_wider_than_the_window_never_hold() -> None:
    t = FailureThrottle(limit=2, window=60)
    for at in range(0, 600, 61):
        assert t.retry_after("a", float(at)) == 0
        t.failed("a", float(at))
