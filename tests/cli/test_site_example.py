"""config/site.example.toml shows real hardware for every channel and CTI kind, and every example
in it passes `callout check-config --strict` (the real command). Breaking one example's options
makes the command name that channel's key and exit 2, so the check is not a formality."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from adapters.registry import CTI_KINDS, KINDS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "site.example.toml"


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLOUT_")}
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", str(path), "--strict"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_every_channel_and_cti_kind_has_an_example() -> None:
    doc = tomllib.loads(EXAMPLE.read_text())
    assert {c["kind"] for c in doc["channels"]} >= set(KINDS)
    assert {s["kind"] for s in doc["cti"]["sources"]} >= set(CTI_KINDS)
    serial = [c for c in doc["channels"] if c["kind"] in ("kiss_radio", "tap")]
    assert all(c["options"]["device"].startswith("/dev/") for c in serial)
    assert doc["channels"][[c["kind"] for c in doc["channels"]].index("mqtt_radio")]["options"][
        "broker"
    ].startswith("mqtts://")


def test_the_example_passes_check_config_strictly() -> None:
    r = check_config(EXAMPLE)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "11 channels" in r.stdout


def test_a_broken_example_is_named_with_its_key(tmp_path: Path) -> None:
    # The SMPP password is at most 8 octets (SMPP 3.4 §4.1.1); the KISS callsign must be AX.25.
    text = EXAMPLE.read_text()
    text = text.replace('password = "chgme123"', 'password = "far-too-long-for-smpp"')
    text = re.sub(r'callsign = "[^"]+"', 'callsign = "not a callsign"', text)
    broken = tmp_path / "site.toml"
    broken.write_text(text)
    r = check_config(broken)
    assert r.returncode == 2, r.stdout + r.stderr
    assert str(broken) in r.stderr
    assert "password" in r.stderr and "callsign" in r.stderr
