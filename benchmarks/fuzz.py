"""Deep fuzz runs of every decoder (the targets of tests/fuzz/targets.py).

    python -m benchmarks.fuzz [--inputs 100000] [--seed 14] [--only smpp]

Prints, per decoder: inputs, typed errors (the codec's `ProtocolError`, allowed), untyped errors
(bugs), the slowest input's time (first run, and after re-timing the inputs over 100 ms three
times, which takes a busy machine's pauses out), the first bytes of that input, and the first untyped errors
with the input that raised them (reproducible from the seed). Asserts nothing.
"""

from __future__ import annotations

import argparse
import time

from tests.fuzz.mutate import fuzz
from tests.fuzz.targets import TARGETS


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs per decoder")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--only", default="", help="run decoders whose name contains this")
    args = parser.parse_args()
    head = f"{'decoder':38} {'inputs':>8} {'typed':>8} {'untyped':>8} {'slowest ms':>10} {'re-timed':>8}"
    print(head, " slowest input")
    total_untyped = 0
    started = time.perf_counter()
    for target in TARGETS:
        if args.only not in target.name:
            continue
        r = fuzz(target, count=args.inputs, seed=args.seed)
        total_untyped += len(r.untyped)
        print(
            f"{target.name:38} {r.inputs:8d} {r.typed:8d} {len(r.untyped):8d} "
            f"{r.slowest * 1000:10.2f} {r.slowest_retimed * 1000:8.2f}  {r.slowest_input[:40]!r}"
        )
        for data, exc in r.untyped[:3]:
            print(f"    {type(exc).__name__}: {str(exc)[:100]} on {data[:60]!r}")
    print(f"untyped errors in all: {total_untyped}; {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
