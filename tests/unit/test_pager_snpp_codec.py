"""The SNPP codec (sans-I/O, RFC 1861): command lines, DATA bodies and reply parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.pager_snpp.channel import recipients
from adapters.pager_snpp.codec import (
    QUIT,
    RESET,
    SEND,
    Reply,
    ReplyClass,
    ReplyParser,
    SnppProtocolError,
    command,
    data_body,
    level,
    mess,
    needs_data,
    page,
    printable,
)


@pytest.mark.parametrize(
    ("line", "wire"),
    [
        (page("5551234"), b"PAGE 5551234\r\n"),
        (page("5551234", "s3cret"), b"PAGE 5551234 s3cret\r\n"),
        (mess("Unit 12 to Stn 4"), b"MESS Unit 12 to Stn 4\r\n"),
        (mess("caf\u00e9 \u20ac5"), b"MESS cafe ?5\r\n"),
        (level(0), b"LEVE 0\r\n"),
        (level(11), b"LEVE 11\r\n"),
        (command("LOGI", "callout", "pw"), b"LOGI callout pw\r\n"),
        (SEND, b"SEND\r\n"),
        (RESET, b"RESE\r\n"),
        (QUIT, b"QUIT\r\n"),
    ],
)
def test_command_table(line, wire):
    assert line == wire


@pytest.mark.parametrize(
    "bad",
    [
        lambda: level(12),
        lambda: level(-1),
        lambda: page("a b"),
        lambda: page(""),
        lambda: command("PAGER", "1"),
        lambda: command("MESS", "two\r\nlines"),
    ],
)
def test_bad_commands_are_refused(bad):
    with pytest.raises(ValueError):
        bad()


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("one line", b"one line\r\n.\r\n"),
        ("a\n.b\n.", b"a\r\n..b\r\n..\r\n.\r\n"),  # §4.4.1: leading dots doubled
        ("x\r\ny", b"x\r\ny\r\n.\r\n"),
    ],
)
def test_data_bodies_are_dot_stuffed(text, wire):
    assert data_body(text) == wire


def test_mess_or_data():
    assert not needs_data("one line") and needs_data("two\nlines")
    assert printable("tab\there\x7f") == "tab here "


@pytest.mark.parametrize(
    ("wire", "replies"),
    [
        (b"220 SNPP Gateway Ready\r\n", [Reply(220, "SNPP Gateway Ready")]),
        (
            b"250 Pager ID Accepted\r\n250 Message OK\r\n",
            [Reply(250, "Pager ID Accepted"), Reply(250, "Message OK")],
        ),
        (b"421 Timeout, Goodbye\n", [Reply(421, "Timeout, Goodbye")]),
        (b"214-PAGE MESS\r\n214-SEND\r\n214 end\r\n", [Reply(214, "PAGE MESS\nSEND\nend")]),
        (b"550\r\n", [Reply(550, "")]),
        (b"\r\n860 Delivered\r\n", [Reply(860, "Delivered")]),
    ],
)
def test_reply_table(wire, replies):
    assert ReplyParser().feed(wire) == replies


@pytest.mark.parametrize(
    ("code", "klass", "ok", "closes"),
    [
        (250, ReplyClass.SUCCESS, True, False),
        (354, ReplyClass.INPUT, False, False),
        (421, ReplyClass.FATAL, False, True),
        (550, ReplyClass.ERROR, False, False),
        (554, ReplyClass.ERROR, False, False),
        (880, ReplyClass.TWO_WAY_SUCCESS, True, False),
        (960, ReplyClass.TWO_WAY_QUEUED, True, False),
        (750, ReplyClass.TWO_WAY_ERROR, False, False),
        (150, None, False, False),
    ],
)
def test_reply_classes(code, klass, ok, closes):
    r = Reply(code, "x")
    assert (r.klass, r.ok, r.closes) == (klass, ok, closes)


def test_every_split_of_a_reply_stream_gives_the_same_replies():
    wire = b"220 ready\r\n250 Pager ID Accepted\r\n214-a\r\n214 b\r\n421 Timeout, Goodbye\r\n"
    whole = ReplyParser().feed(wire)
    assert len(whole) == 4
    for k in range(len(wire) + 1):
        p = ReplyParser()
        assert p.feed(wire[:k]) + p.feed(wire[k:]) == whole, k


@pytest.mark.parametrize("garbage", [b"hello\r\n", b"25 short\r\n", b"x" * 5000])
def test_garbage_is_a_protocol_error(garbage):
    with pytest.raises(SnppProtocolError):
        ReplyParser().feed(garbage)


@given(st.binary(max_size=300))
def test_garbage_only_ever_raises_the_protocol_error(data):
    try:
        for r in ReplyParser().feed(data):
            assert 0 <= r.code <= 999
    except SnppProtocolError:
        pass


@given(st.text(max_size=200))
def test_data_bodies_always_end_with_the_terminator_and_never_hold_a_lone_dot(text):
    wire = data_body(text)
    lines = wire.split(b"\r\n")
    assert lines[-2:] == [b".", b""]
    assert b"." not in lines[:-2]
    assert all(b < 0x80 for b in wire)


@pytest.mark.parametrize(
    ("address", "ids"),
    [("1001", ["1001"]), ("1001,1002", ["1001", "1002"]), (" 1001 ; 1002  1003,", ["1001", "1002", "1003"])],
)
def test_group_addresses(address, ids):
    assert recipients(address) == ids
