"""Every decoder under a bounded, seeded mutation fuzz (tests/fuzz/mutate.py): only the codec's
typed errors (`ProtocolError`) may escape, and no input may take the decoder more than 100 ms.

The CI budget is `INPUTS` inputs per decoder (about 10 s for all of them on one core); deep runs
are `python -m benchmarks.fuzz --inputs 100000`. A slow input is timed three more times before it
counts, so a busy machine cannot fail the test, while a decoder that is really slow on an input
(backtracking, quadratic buffering) does."""

from __future__ import annotations

import pytest

from tests.fuzz.mutate import fuzz
from tests.fuzz.targets import TARGETS

INPUTS = 3000
SEED = 14
BUDGET = 0.1  # seconds per input


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_only_typed_errors_escape_and_no_input_is_slow(target):
    result = fuzz(target, count=INPUTS, seed=SEED, budget=BUDGET)
    assert result.inputs == INPUTS
    findings = [f"{type(exc).__name__}: {exc} on {data[:80]!r}" for data, exc in result.untyped[:5]]
    assert not findings, f"{len(result.untyped)} untyped errors, e.g.\n" + "\n".join(findings)
    slow = [(round(t * 1000), data[:80]) for data, t in result.really_slow]
    assert not slow, f"inputs over {BUDGET * 1000:.0f} ms on every run: {slow}"


def test_every_seed_is_valid_for_its_decoder():
    """A seed that its own decoder refuses exercises no valid path: the table would be wrong."""
    from adapters.errors import ProtocolError

    for target in TARGETS:
        refused = 0
        for seed in target.seeds:
            try:
                target.run(seed)
            except ProtocolError:
                refused += 1
        assert refused < len(target.seeds), f"{target.name}: every seed is refused"


def test_the_fuzzer_finds_an_untyped_error():
    """The harness itself can fail: a decoder with a planted bug is caught."""
    from tests.fuzz.mutate import Target

    def planted(data: bytes) -> None:
        if b"\xb9" in data:
            int(data.decode("latin-1"))

    result = fuzz(Target("planted", [b"+CMS ERROR: 38"], planted), count=2000, seed=SEED)
    assert result.untyped and isinstance(result.untyped[0][1], ValueError)
