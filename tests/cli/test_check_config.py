"""`callout check-config` and `callout run` on good and broken files, through the real command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

GOOD = """
[api]
tokens = [{ name = "desk", role = "dispatcher", token = "desk-token-000000001" }]

[[channels]]
name = "app"
kind = "webhook"
options = { url = "http://127.0.0.1:9/{address}" }

[[channels]]
name = "bureau"
kind = "webhook"
options = { url = "http://127.0.0.1:9/b/{address}" }

[[resources]]
id = "ENG-1"
capabilities = ["fire"]
contact_plan = [{ channel = "app", address = "E1" }, { channel = "bureau", address = "E1" }]
"""


def callout(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "site.toml"
    p.write_text(text)
    return p


def test_a_good_file_passes_and_warns_about_single_channel_p1_resources(tmp_path):
    p = write(tmp_path, GOOD)
    r = callout("check-config", str(p))
    assert r.returncode == 0, r.stderr
    assert f"{p}: ok (2 channels, 1 resources" in r.stdout
    assert "independent channel" in r.stdout  # both channels are webhooks: one kind, not independent
    assert "resources.0 (ENG-1)" in r.stdout


def test_strict_turns_warnings_into_a_failure(tmp_path):
    r = callout("check-config", "--strict", str(write(tmp_path, GOOD)))
    assert r.returncode == 1


def test_wrong_type_names_file_key_and_reason_and_exits_2(tmp_path):
    p = write(tmp_path, GOOD + '\n[delivery]\nmax_retries = "many"\n')
    r = callout("check-config", str(p))
    assert r.returncode == 2
    assert f"{p}: delivery.max_retries: Input should be a valid integer" in r.stderr


def test_unknown_key_and_unknown_channel_reference(tmp_path):
    text = GOOD.replace('capabilities = ["fire"]', 'capabilites = ["fire"]')
    r = callout("check-config", str(write(tmp_path, text)))
    assert r.returncode == 2
    assert "resources.0.capabilites: unknown key" in r.stderr
    text = GOOD.replace('{ channel = "bureau", address = "E1" }', '{ channel = "radio", address = "E1" }')
    r = callout("check-config", str(write(tmp_path, text)))
    assert r.returncode == 2 and "contact_plan.1.channel: unknown channel 'radio'" in r.stderr


def test_bad_channel_options_are_checked_by_the_channel_kind(tmp_path):
    r = callout("check-config", str(write(tmp_path, GOOD.replace("http://127.0.0.1:9/b/", "ftp://x/"))))
    assert r.returncode == 2 and "channels.1.options.url (bureau)" in r.stderr
    r = callout(
        "check-config", str(write(tmp_path, GOOD.replace('kind = "webhook"', 'kind = "carrier-pigeon"', 1)))
    )
    assert r.returncode == 2 and "unknown channel kind 'carrier-pigeon'" in r.stderr


def test_toml_syntax_error_and_missing_file(tmp_path):
    r = callout("check-config", str(write(tmp_path, "[api\nport = 1")))
    assert r.returncode == 2 and "(syntax)" in r.stderr
    r = callout("check-config", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_environment_overrides_the_file_and_is_named_when_wrong(tmp_path):
    p = write(tmp_path, GOOD)
    r = callout("check-config", str(p), env={"CALLOUT_API__PORT": "not-a-port"})
    assert r.returncode == 2
    assert "api.port" in r.stderr and "CALLOUT_API__PORT" in r.stderr


def test_run_refuses_a_broken_file_with_exit_2(tmp_path):
    r = callout("run", "-c", str(write(tmp_path, GOOD + "\n[store]\nurl = 'mysql://x'\n")))
    assert r.returncode == 2 and "store.url" in r.stderr


def test_shipped_configurations_are_valid():
    root = Path(__file__).resolve().parents[2]
    for path in (root / "config" / "site.example.toml", root / "gateway" / "defaults" / "demo.toml"):
        r = callout("check-config", str(path))
        assert r.returncode == 0, f"{path}: {r.stderr}"
