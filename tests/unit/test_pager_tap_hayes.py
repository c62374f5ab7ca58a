"""The Hayes helpers of the TAP channel (sans-I/O): result codes and the command/data split."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.pager_tap.hayes import ModemLines, Reply, Result, classify


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("OK", Reply(Result.OK)),
        ("CONNECT 1200", Reply(Result.CONNECT, "1200")),
        ("CONNECT", Reply(Result.CONNECT)),
        ("connect 9600/ARQ", Reply(Result.CONNECT, "9600/ARQ")),
        ("NO CARRIER", Reply(Result.NO_CARRIER)),
        ("BUSY", Reply(Result.BUSY)),
        ("NO DIALTONE", Reply(Result.NO_DIALTONE)),
        ("ATDT5551234", None),  # an echo
        ("CONNECTED", None),
    ],
)
def test_result_codes(line, reply):
    assert classify(line) == reply


def test_what_follows_connect_belongs_to_the_terminal():
    lines = ModemLines()
    assert lines.feed(b"ATZ\r\r\nOK\r\nATDT555\r") == [Reply(Result.OK)]
    assert lines.feed(b"\r\nCONN") == []
    assert lines.feed(b"ECT 1200\r\nID=") == [Reply(Result.CONNECT, "1200")]
    assert lines.online and lines.rest == b"ID="
    assert lines.feed(b"\r") == [] and lines.rest == b"ID=\r"


@given(st.binary(max_size=300))
def test_garbage_never_raises(data):
    lines = ModemLines()
    for reply in lines.feed(data):
        assert isinstance(reply.result, Result)
