"""Back-off policy: capped exponential delays with bounded jitter, no sleeping."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.backoff import backoff, retry_delay


def _delay(tries: int, *, jitter: float = 0.0, seed: int = 0, **kw: float) -> float:
    args = {"base": 2.0, "factor": 2.0, "cap": 60.0} | kw
    return retry_delay(tries, jitter=jitter, rng=random.Random(seed), **args)


def test_without_jitter_the_delay_doubles_then_stops_at_the_cap() -> None:
    assert [_delay(n) for n in range(1, 8)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_factor_one_gives_a_constant_delay() -> None:
    assert {_delay(n, factor=1.0) for n in range(1, 20)} == {2.0}


def test_a_huge_retry_count_is_capped_not_an_overflow() -> None:
    assert _delay(10**6) == 60.0
    assert _delay(10**6, factor=1e300, base=1e300) == 60.0


def test_jitter_varies_the_delay_within_its_band() -> None:
    rng = random.Random(1)
    delays = [retry_delay(3, base=2.0, factor=2.0, cap=60.0, jitter=0.5, rng=rng) for _ in range(200)]
    assert len(set(delays)) > 100
    assert all(4.0 <= d <= 12.0 for d in delays)
    assert min(delays) < 6.0 < max(delays)


def test_the_same_seed_gives_the_same_delays() -> None:
    first = [_delay(n, jitter=0.3, seed=7) for n in range(1, 10)]
    second = [_delay(n, jitter=0.3, seed=7) for n in range(1, 10)]
    assert first == second


@given(
    tries=st.integers(min_value=1, max_value=5000),
    base=st.floats(min_value=0.0, max_value=1e6),
    factor=st.floats(min_value=1.0, max_value=100.0),
    cap=st.floats(min_value=0.0, max_value=1e6),
    jitter=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_delay_stays_within_the_jitter_band_and_the_cap(
    tries: int, base: float, factor: float, cap: float, jitter: float, seed: int
) -> None:
    delay = retry_delay(tries, base=base, factor=factor, cap=cap, jitter=jitter, rng=random.Random(seed))
    try:
        nominal = min(cap, base * factor ** (tries - 1))
    except OverflowError:
        nominal = cap
    assert 0.0 <= delay <= cap * (1 + jitter)
    assert nominal * (1 - jitter) * (1 - 1e-12) <= delay <= nominal * (1 + jitter) * (1 + 1e-12)


def test_generator_yields_the_same_sequence_as_retry_delay() -> None:
    gen = backoff(base=1.0, factor=3.0, cap=100.0, jitter=0.25, rng=random.Random(42))
    rng = random.Random(42)
    expected = [retry_delay(n, base=1.0, factor=3.0, cap=100.0, jitter=0.25, rng=rng) for n in range(1, 30)]
    assert list(itertools.islice(gen, 29)) == expected


def test_generator_is_endless() -> None:
    gen = backoff(base=1.0, factor=2.0, cap=5.0, jitter=0.0, rng=random.Random(0))
    tail = list(itertools.islice(gen, 1000))[-3:]
    assert tail == [5.0, 5.0, 5.0]


@pytest.mark.parametrize(
    ("tries", "kw"),
    [
        (0, {}),
        (1, {"base": -1.0}),
        (1, {"cap": -1.0}),
        (1, {"factor": 0.5}),
        (1, {"jitter": -0.1}),
        (1, {"jitter": 1.5}),
    ],
)
def test_bad_arguments_are_refused(tries: int, kw: dict[str, float]) -> None:
    args = {"base": 1.0, "factor": 2.0, "cap": 10.0, "jitter": 0.1} | kw
    with pytest.raises(ValueError):
        retry_delay(tries, rng=random.Random(0), **args)


def test_generator_checks_its_arguments_before_the_first_next() -> None:
    with pytest.raises(ValueError, match="jitter"):
        backoff(base=1.0, factor=2.0, cap=10.0, jitter=2.0, rng=random.Random(0))
