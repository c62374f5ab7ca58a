"""Hashed tokens through the real API: a token whose hash is configured signs in; one scrypt at
most per presented token (found by its key id), then a cached lookup."""

from __future__ import annotations

from pathlib import Path

from gateway.api.tokens import TokenTable, new_token
from gateway.settings import ApiToken
from tests.api.conftest import make_settings, running_api

CHEAP = {"n": 2**4, "r": 8, "p": 1}  # tests only: real tokens use callout token new's cost


async def test_a_hashed_token_signs_in_and_a_near_miss_does_not(tmp_path: Path) -> None:
    token, hashed = new_token(**CHEAP)
    settings = make_settings(tmp_path)
    settings.api.tokens.append(ApiToken(name="desk-3", role="dispatcher", token_hash=hashed))
    async with running_api(settings, run=False) as api:
        for _ in range(2):  # the second request is answered from the verified cache
            r = await api.call("GET", "/api/v1/me", role=None, headers={"Authorization": f"Bearer {token}"})
            assert r.status == 200, r.body
            assert (r.body["name"], r.body["role"]) == ("desk-3", "dispatcher")
        near = token[:-2] + ("aa" if not token.endswith("aa") else "bb")
        r = await api.call("GET", "/api/v1/me", role=None, headers={"Authorization": f"Bearer {near}"})
        assert r.status == 401
        r = await api.call("GET", "/api/v1/me", role=None, headers={"Authorization": f"Bearer {hashed}"})
        assert r.status == 401  # the hash itself is not a token


def test_lookup_finds_the_entry_by_key_id_and_never_caches_failures() -> None:
    made = [new_token(**CHEAP) for _ in range(3)]
    table = TokenTable(
        [ApiToken(name=f"t{i}", role="viewer", token_hash=h) for i, (_, h) in enumerate(made)]
        + [ApiToken(name="plain", role="engineer", token="plain-token-0123456789")]
    )
    for i, (tok, _) in enumerate(made):
        assert table.needs_hashing(tok)
        found = table.lookup(tok)
        assert found is not None and found.name == f"t{i}"
        assert not table.needs_hashing(tok)
        assert table.cached(tok) == found
    other, _ = new_token(**CHEAP)
    assert table.lookup(other) is None and not table.needs_hashing(other)  # unknown key id
    forged = made[0][0][: len("callout_") + 17] + "x" * 43
    assert table.lookup(forged) is None and table.needs_hashing(forged)
    plain = table.lookup("plain-token-0123456789")
    assert plain is not None and plain.role == "engineer"
