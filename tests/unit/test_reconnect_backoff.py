"""The one reconnect back-off every adapter uses (adapters/backoff.py)."""

from __future__ import annotations

import random

import pytest

from adapters.backoff import reconnect_delays


def test_reconnect_delays_grow_to_the_cap_and_jitter_stays_in_bounds():
    plain = reconnect_delays(first=0.5, cap=4.0)
    assert [next(plain) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    tripled = reconnect_delays(first=0.5, cap=3.0, factor=3)
    assert [next(tripled) for _ in range(4)] == [0.5, 1.5, 3.0, 3.0]
    jittered = reconnect_delays(first=1.0, cap=8.0, jitter=0.25, rng=random.Random(7))
    values = [next(jittered) for _ in range(50)]
    assert all(0.75 <= v <= 10.0 for v in values) and values[-1] >= 6.0
    same = reconnect_delays(first=1.0, cap=8.0, jitter=0.25, rng=random.Random(7))
    assert [next(same) for _ in range(50)] == values  # pure: same seed, same delays


@pytest.mark.parametrize(
    "kwargs",
    [
        {"first": 0, "cap": 1},
        {"first": 2, "cap": 1},
        {"first": 1, "cap": 2, "factor": 0.5},
        {"first": 1, "cap": 2, "jitter": 1.5},
    ],
)
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        next(reconnect_delays(**kwargs))
