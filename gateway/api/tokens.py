"""API tokens: made, hashed and checked. The settings file holds a hash, never the token.

A token made by `callout token new` reads `callout_<key id>_<secret>`. The key id (16 hex digits)
is the scrypt salt and names the configured entry, so checking a presented token costs at most
one scrypt (RFC 7914; cost n, block size r and parallelism p are kept in the hash) whatever the
number of tokens. The config line holds `token_hash = "scrypt:<n>:<r>:<p>:<key id>:<hex digest>"`.
A token once verified is remembered (by its SHA-256) so later requests cost a dictionary lookup.

Plaintext tokens (`token = "…"`) still work, compared in constant time; `callout check-config`
warns about each one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.settings import ApiToken, Role

PREFIX = "callout_"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_DKLEN = 32
_TOKEN = re.compile(r"^callout_([0-9a-f]{16})_([A-Za-z0-9_-]{20,128})$")


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    role: Role

    @property
    def actor(self) -> str:
        return f"api:{self.name}"


@dataclass(frozen=True, slots=True)
class HashedToken:
    n: int
    r: int
    p: int
    key_id: str
    digest: bytes

    @classmethod
    def parse(cls, text: str) -> HashedToken:
        """`scrypt:n:r:p:keyid:hex` (settings validated the shape already)."""
        _, n, r, p, key_id, digest = text.split(":")
        return cls(int(n), int(r), int(p), key_id, bytes.fromhex(digest))

    def matches(self, secret: str) -> bool:
        given = _scrypt(secret, self.key_id, self.n, self.r, self.p)
        return hmac.compare_digest(given, self.digest)

    def __str__(self) -> str:
        return f"scrypt:{self.n}:{self.r}:{self.p}:{self.key_id}:{self.digest.hex()}"


def _scrypt(secret: str, key_id: str, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode(), salt=bytes.fromhex(key_id), n=n, r=r, p=p, maxmem=256 * r * n + 2**20, dklen=_DKLEN
    )


def new_token(*, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> tuple[str, str]:
    """A fresh random token and the hash to put in the settings file."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    hashed = HashedToken(n, r, p, key_id, _scrypt(secret, key_id, n, r, p))
    return f"{PREFIX}{key_id}_{secret}", str(hashed)


class TokenTable:
    """The configured tokens. Plaintext ones are all compared in constant time on every lookup;
    a hashed one is found by its key id and checked with one scrypt."""

    def __init__(self, tokens: Iterable[ApiToken]) -> None:
        self._plain: list[tuple[bytes, Identity]] = []
        self._hashed: dict[str, tuple[HashedToken, Identity]] = {}
        self._verified: dict[bytes, Identity] = {}  # sha256 of a token that verified -> who
        for t in tokens:
            who = Identity(t.name, t.role)
            if t.token_hash is not None:
                h = HashedToken.parse(t.token_hash)
                self._hashed[h.key_id] = (h, who)
            elif t.token is not None:
                self._plain.append((t.token.encode(), who))

    def cached(self, presented: str) -> Identity | None:
        """The identity of a token seen before, or of a plaintext token (both cheap)."""
        who = self._verified.get(hashlib.sha256(presented.encode()).digest())
        if who is not None:
            return who
        return self._lookup_plain(presented)

    def needs_hashing(self, presented: str) -> bool:
        """True when only an scrypt can tell (the caller may run `lookup` in a thread)."""
        m = _TOKEN.match(presented)
        return m is not None and m.group(1) in self._hashed and self.cached(presented) is None

    def lookup(self, presented: str) -> Identity | None:
        found = self.cached(presented)
        if found is not None:
            return found
        m = _TOKEN.match(presented)
        if m is None or m.group(1) not in self._hashed:
            return None
        hashed, who = self._hashed[m.group(1)]
        if not hashed.matches(m.group(2)):
            return None
        self._verified[hashlib.sha256(presented.encode()).digest()] = who
        return who

    def _lookup_plain(self, presented: str) -> Identity | None:
        given = presented.encode()
        found: Identity | None = None
        for secret, who in self._plain:
            if hmac.compare_digest(secret, given) and found is None:
                found = who
        return found
