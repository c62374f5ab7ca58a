"""What the API's hardening costs per request: a hashed token checked once (scrypt) and then from
the verified cache, a plaintext token among several, and the JSON nesting check on a body.

    python3 -m benchmarks.auth_bench

Prints figures and asserts nothing.
"""

from __future__ import annotations

import contextlib
import json
import time

from gateway.api.errors import MalformedBodyError
from gateway.api.inputs import load_json
from gateway.api.tokens import TokenTable, new_token
from gateway.settings import ApiToken


def _per_call(fn: object, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - start) / n


def main() -> None:
    made = [new_token() for _ in range(4)]
    table = TokenTable(
        [ApiToken(name=f"desk-{i}", role="dispatcher", token_hash=h) for i, (_, h) in enumerate(made)]
        + [ApiToken(name=f"plain-{i}", role="viewer", token=f"plain-token-{i:010d}") for i in range(4)]
    )
    token = made[0][0]
    start = time.perf_counter()
    table.lookup(token)
    first = time.perf_counter() - start
    cached = _per_call(lambda: table.lookup(token), 20_000)
    plain = _per_call(lambda: table.lookup("plain-token-0000000003"), 20_000)
    wrong = _per_call(lambda: table.lookup(made[1][0][:-1] + "x"), 5)
    fields = {"nature": "smoke from a roof", "location": "1 High Street", "impact": 1, "urgency": 1}
    body = json.dumps(fields).encode()
    deep = b"[" * 100_000 + b"]" * 100_000
    parse = _per_call(lambda: load_json(body), 20_000)

    def refuse() -> None:
        with contextlib.suppress(MalformedBodyError):
            load_json(deep)

    bomb = _per_call(refuse, 20)
    print(f"hashed token, first check (scrypt n=2^14):  {first * 1000:8.1f} ms")
    print(f"hashed token, from the verified cache:       {cached * 1e6:8.1f} µs")
    print(f"plaintext token (4 compared):                {plain * 1e6:8.1f} µs")
    print(f"wrong hashed token (one scrypt):             {wrong * 1000:8.1f} ms")
    print(f"small body through load_json:                {parse * 1e6:8.1f} µs")
    print(f"100,000-deep body refused:                   {bomb * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
