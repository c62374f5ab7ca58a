"""`callout token new` prints a token once and its config line; the daemon's check accepts the
line, and plaintext tokens draw a warning from `check-config`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from gateway.api.tokens import TokenTable
from gateway.settings import ApiToken
from tests.cli.test_check_config import GOOD, callout, write


def test_token_new_prints_the_token_once_and_a_hash_line_that_verifies(tmp_path: Path) -> None:
    r = callout("token", "new", "--name", "desk-3", "--role", "dispatcher")
    assert r.returncode == 0, r.stderr
    token = re.search(r"shown once; give it to desk-3\): (\S+)", r.stdout)
    assert token is not None, r.stdout
    line = next(ln for ln in r.stdout.splitlines() if "token_hash" in ln).strip().rstrip(",")
    entry = tomllib.loads(f"t = {line}")["t"]
    assert entry["name"] == "desk-3" and entry["role"] == "dispatcher"
    assert token.group(1) not in line  # the config holds only the hash
    table = TokenTable([ApiToken(**entry)])
    assert table.lookup(token.group(1)) is not None
    assert table.lookup(token.group(1)[:-1] + "x") is None
    p = write(
        tmp_path, GOOD.replace('token = "desk-token-000000001"', f'token_hash = "{entry["token_hash"]}"')
    )
    checked = callout("check-config", str(p))
    assert checked.returncode == 0, checked.stderr
    assert "plaintext" not in checked.stdout


def test_check_config_warns_about_plaintext_tokens(tmp_path: Path) -> None:
    r = callout("check-config", str(write(tmp_path, GOOD)))
    assert r.returncode == 0
    assert "api.tokens.0 (desk): the token is in plaintext" in r.stdout
    assert "callout token new --name desk --role dispatcher" in r.stdout


def test_a_malformed_hash_or_both_secrets_exit_2_naming_the_key(tmp_path: Path) -> None:
    bad = GOOD.replace('token = "desk-token-000000001"', 'token_hash = "sha1:abc"')
    r = callout("check-config", str(write(tmp_path, bad)))
    assert r.returncode == 2
    assert "api.tokens.0.token_hash" in r.stderr
    both = GOOD.replace('token = "desk-token-000000001"', 'token = "desk-token-000000001", token_hash = "x"')
    r = callout("check-config", str(write(tmp_path, both)))
    assert r.returncode == 2 and "api.tokens.0" in r.stderr
