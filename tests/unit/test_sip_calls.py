"""The sipp wrapper's pure parts: targets, caller files, command lines, message logs."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from simulators.sip_calls import (
    SCENARIOS,
    Caller,
    Target,
    add_arguments,
    callers_from_prefix,
    read_trace,
    sipp_command,
    write_callers,
)


@pytest.mark.parametrize(
    ("uri", "target"),
    [
        ("sip:desk@127.0.0.1:5062", Target("desk", "127.0.0.1", 5062)),
        ("sip:000@pbx.example.net", Target("000", "pbx.example.net", 5060)),
        ("sip:desk@[::1]:5070;transport=udp", Target("desk", "::1", 5070)),
        ("sip:10.0.0.5", Target("desk", "10.0.0.5", 5060)),
    ],
)
def test_target_parse(uri: str, target: Target) -> None:
    assert Target.parse(uri) == target


@pytest.mark.parametrize("bad", ["http://x", "sip:", "sip:desk@:5060", "sip:desk@h:port"])
def test_target_parse_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        Target.parse(bad)


def test_callers_from_a_prefix_are_eleven_digits_and_distinct() -> None:
    callers = callers_from_prefix("07700", 100)
    assert callers[0] == Caller("07700000001", "Caller 1") and callers[-1].number == "07700000100"
    assert len({c.number for c in callers}) == 100 and {len(c.number) for c in callers} == {11}


def test_caller_file_is_sipp_injection_format(tmp_path: Path) -> None:
    path = write_callers(tmp_path / "c.csv", [Caller("0412", "Jo"), Caller("0413", "Al", asserted="+61413")])
    assert path.read_text() == "SEQUENTIAL\n0412;Jo;0412\n0413;Al;+61413\n"
    with pytest.raises(ValueError):
        write_callers(tmp_path / "x.csv", [Caller("04;12", "Jo")])


def test_sipp_command_line(tmp_path: Path) -> None:
    cmd = sipp_command(
        target=Target.parse("sip:desk@127.0.0.1:5062"), callers_file=tmp_path / "c.csv", rate=5, count=100
    )
    assert cmd[:3] == ["sipp", "-sf", str(SCENARIOS / "caller.xml")]

    def arg(flag: str) -> str:
        return cmd[cmd.index(flag) + 1]

    assert (arg("-s"), arg("-r"), arg("-m"), arg("-l")) == ("desk", "5", "100", "100")
    assert (arg("-recv_timeout"), arg("-timeout"), arg("-i")) == ("2000", "52s", "127.0.0.1")
    assert "-nostdin" in cmd and cmd[-1] == "127.0.0.1:5062"
    assert (SCENARIOS / "caller.xml").exists() and (SCENARIOS / "abandon.xml").exists()
    with pytest.raises(ValueError):
        sipp_command(target=Target.parse("sip:d@h"), callers_file=tmp_path / "c.csv", rate=0)


def test_read_trace(tmp_path: Path) -> None:
    log = tmp_path / "m.log"
    log.write_text(
        "----------------------------------------------- 2026-01-02 03:04:05.250000\n"
        "UDP message sent (10 bytes):\n\nINVITE sip:desk@h SIP/2.0\nCall-ID: a1\n\n"
        "----------------------------------------------- 2026-01-02 03:04:05.500000\n"
        "UDP message received [10] bytes :\n\nSIP/2.0 200 OK\nCall-ID: a1\nCSeq: 1 INVITE\n\n"
    )
    sent, got = read_trace(log)
    assert (sent.direction, sent.first_line, sent.header("call-id")) == (
        "sent",
        "INVITE sip:desk@h SIP/2.0",
        "a1",
    )
    assert (got.direction, got.header("CSeq")) == ("received", "1 INVITE")
    assert round(got.at - sent.at, 3) == 0.25
    assert read_trace(tmp_path / "missing.log") == []


def test_cli_options_map_onto_main() -> None:
    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(
        ["--to", "sip:desk@127.0.0.1:5062", "--rate", "5", "--count", "100", "--caller-prefix", "07700"]
    )
    assert vars(args) == {
        "to": "sip:desk@127.0.0.1:5062",
        "rate": 5.0,
        "count": 100,
        "caller_prefix": "07700",
        "hold_ms": 2000,
        "limit": None,
        "abandon": False,
        "local_ip": None,
        "sipp": "sipp",
    }
