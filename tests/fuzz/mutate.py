"""A seeded mutation fuzzer for the sans-I/O decoders (docs/style.md practice 1).

Each input is a valid sample message from a decoder's own unit-test tables, mutated a few times
(bit flips, interesting bytes, insertions, deletions, truncation, repeats, splices with another
seed) or, now and then, plain random bytes. Everything is drawn from one `random.Random(seed)`,
so a failure reproduces from the seed and the input index printed with it.

A decoder may return anything or raise its codec's typed error (a `ProtocolError` subclass);
any other exception is an untyped error, a bug. Each input is timed against a budget.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from adapters.errors import ProtocolError

# Bytes that break parsers: NUL, controls used as delimiters by the protocols fuzzed here (CR, LF,
# STX/ETX/EOT/ESC/SUB of TAP, FEND/FESC of KISS, Ctrl-Z of AT), the high bit, and Latin-1 digits
# that `str.isdigit` accepts but `int` refuses (superscripts).
INTERESTING = (
    bytes([0x00, 0x01, 0x02, 0x03, 0x04, 0x0A, 0x0D, 0x1A, 0x1B, 0x7F, 0x80, 0xB2, 0xB9, 0xC0, 0xDB, 0xFF])
    + b':;,{}[]"\\ 09-+'
)


@dataclass(frozen=True, slots=True)
class Target:
    """One decoder: `run(data)` feeds it one input; `seeds` are valid messages for it."""

    name: str
    seeds: Sequence[bytes]
    run: Callable[[bytes], object]


@dataclass
class Result:
    name: str
    inputs: int = 0
    typed: int = 0  # the codec's own ProtocolError: allowed
    untyped: list[tuple[bytes, BaseException]] = field(default_factory=list)
    slowest: float = 0.0
    slowest_input: bytes = b""
    slow: list[tuple[bytes, float]] = field(default_factory=list)  # over budget on the first run
    really_slow: list[tuple[bytes, float]] = field(default_factory=list)  # and on every re-run

    @property
    def slowest_retimed(self) -> float:
        """The slowest input's time once busy-machine noise is taken out: inputs over the budget
        are re-timed three times and count with their fastest run."""
        if not self.slow:
            return self.slowest
        return max(t for _, t in self.retimed)

    retimed: list[tuple[bytes, float]] = field(default_factory=list)


def mutate(rng: random.Random, data: bytes, seeds: Sequence[bytes]) -> bytes:
    """One to four random edits of `data`."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        at = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip one bit
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:  # overwrite with an interesting byte
            buf[rng.randrange(len(buf))] = rng.choice(INTERESTING)
        elif op == 2:  # insert interesting or random bytes
            buf[at:at] = bytes(
                rng.choice((rng.choice(INTERESTING), rng.randrange(256))) for _ in range(rng.randint(1, 8))
            )
        elif op == 3 and buf:  # delete a run
            del buf[at : at + rng.randint(1, 16)]
        elif op == 4:  # truncate
            del buf[at:]
        elif op == 5 and buf:  # repeat a chunk
            j = rng.randrange(len(buf))
            chunk = buf[j : j + rng.randint(1, 32)]
            buf[at:at] = chunk * rng.randint(2, 16)
        elif op == 6 and seeds:  # splice with another seed
            other = rng.choice(seeds)
            k = rng.randrange(len(other) + 1)
            buf = buf[:at] + bytearray(other[k:])
        elif op == 7 and buf:  # set a byte to a boundary value (lengths, counts, tags)
            buf[rng.randrange(len(buf))] = rng.choice((0, 1, 0x7F, 0x80, 0xFE, 0xFF))
        else:  # a digit run (numeric fields: lengths, codes, references)
            buf[at:at] = str(rng.choice((0, 9, 10, 99, 255, 256, 65535, 10**9, 10**20))).encode()
    return bytes(buf)


def inputs(rng: random.Random, seeds: Sequence[bytes], count: int) -> list[bytes]:
    out: list[bytes] = list(seeds)[:count]
    while len(out) < count:
        if not seeds or rng.random() < 0.05:
            out.append(rng.randbytes(rng.randint(0, 256)))
        else:
            out.append(mutate(rng, rng.choice(seeds), seeds))
    return out


def fuzz(target: Target, *, count: int, seed: int, budget: float = 0.1) -> Result:
    """Run `count` inputs (the seeds first) through `target`; record untyped errors and inputs
    slower than `budget` seconds."""
    rng = random.Random(f"{seed}:{target.name}")
    result = Result(target.name)
    for data in inputs(rng, target.seeds, count):
        started = time.perf_counter()
        try:
            target.run(data)
        except ProtocolError:
            result.typed += 1
        except Exception as exc:  # the finding: anything but the codec's typed error
            result.untyped.append((data, exc))
        took = time.perf_counter() - started
        result.inputs += 1
        if took > result.slowest:
            result.slowest, result.slowest_input = took, data
        if took > budget:
            result.slow.append((data, took))
    for data, _ in result.slow:
        best = min(_timed(target, data) for _ in range(3))
        result.retimed.append((data, best))
        if best > budget:
            result.really_slow.append((data, best))
    return result


def _timed(target: Target, data: bytes) -> float:
    started = time.perf_counter()
    with contextlib.suppress(Exception):  # only the time matters; errors were judged already
        target.run(data)
    return time.perf_counter() - started
