"""The AMI wire format (sans-I/O): sample packets, round trips, truncation, garbage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.ami.codec import Banner, Message, Parser, ProtocolError, action, encode

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
# Packets as Asterisk 20 writes them (docs.asterisk.org AMI_Events / AMI_Actions pages).
SAMPLES: list[tuple[bytes, Message]] = [
    (
        b"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n",
        Message((("Response", "Success"), ("ActionID", "1"), ("Message", "Authentication accepted"))),
    ),
    (
        b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 37\r\nLastReload: 37\r\n"
        b"Status: Fully Booted\r\n\r\n",
        Message(
            (
                ("Event", "FullyBooted"),
                ("Privilege", "system,all"),
                ("Uptime", "37"),
                ("LastReload", "37"),
                ("Status", "Fully Booted"),
            )
        ),
    ),
    (
        b"Event: DialEnd\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-00000001\r\nChannelState: 6\r\n"
        b"CallerIDNum: 0412345678\r\nCallerIDName: Jo Bloggs\r\nUniqueid: 1700000000.1\r\n"
        b"Linkedid: 1700000000.1\r\nDestChannel: PJSIP/7007-00000002\r\nDestCallerIDNum: 7007\r\n"
        b"DestUniqueid: 1700000000.2\r\nDestLinkedid: 1700000000.1\r\nDialStatus: ANSWER\r\n\r\n",
        Message(
            (
                ("Event", "DialEnd"),
                ("Privilege", "call,all"),
                ("Channel", "PJSIP/trunk-00000001"),
                ("ChannelState", "6"),
                ("CallerIDNum", "0412345678"),
                ("CallerIDName", "Jo Bloggs"),
                ("Uniqueid", "1700000000.1"),
                ("Linkedid", "1700000000.1"),
                ("DestChannel", "PJSIP/7007-00000002"),
                ("DestCallerIDNum", "7007"),
                ("DestUniqueid", "1700000000.2"),
                ("DestLinkedid", "1700000000.1"),
                ("DialStatus", "ANSWER"),
            )
        ),
    ),
    (
        b"Event: VarSet\r\nChannel: PJSIP/7007-00000002\r\nVariable: X\r\nValue: a: b: c\r\n"
        b"ChanVariable: A=1\r\nChanVariable: B=2\r\nEmpty: \r\n\r\n",
        Message(
            (
                ("Event", "VarSet"),
                ("Channel", "PJSIP/7007-00000002"),
                ("Variable", "X"),
                ("Value", "a: b: c"),
                ("ChanVariable", "A=1"),
                ("ChanVariable", "B=2"),
                ("Empty", ""),
            )
        ),
    ),
]
STREAM = BANNER + b"".join(raw for raw, _ in SAMPLES)
BOUNDARIES = [len(BANNER) + sum(len(r) for r, _ in SAMPLES[:i]) for i in range(len(SAMPLES) + 1)]
EXPECTED: list[Banner | Message] = [Banner("Asterisk Call Manager/9.0.0"), *(m for _, m in SAMPLES)]


@pytest.mark.parametrize(("raw", "expected"), SAMPLES)
def test_sample_packets_parse_and_re_encode_byte_for_byte(raw: bytes, expected: Message) -> None:
    assert Parser(banner=False).feed(raw) == [expected]
    assert expected.encode() == raw


def test_message_accessors() -> None:
    dial_end = SAMPLES[2][1]
    assert (dial_end.kind, dial_end.name, dial_end.action_id) == ("event", "DialEnd", None)
    assert dial_end.get("dialstatus") == "ANSWER" and dial_end["CallerIDName"] == "Jo Bloggs"
    assert SAMPLES[0][1].kind == "response" and SAMPLES[0][1].action_id == "1"
    assert SAMPLES[3][1].get_all("ChanVariable") == ["A=1", "B=2"]
    with pytest.raises(KeyError):
        dial_end["Nope"]
    assert Message(()).kind == "" and Message((("X", "1"),)).name == ""


def test_banner_version() -> None:
    assert Banner("Asterisk Call Manager/9.0.0").version == "9.0.0"
    assert Banner("SSH-2.0-OpenSSH_9.2").version is None


def test_the_whole_stream_in_one_piece_and_byte_by_byte() -> None:
    assert Parser().feed(STREAM) == EXPECTED
    parser, out = Parser(), []
    for i in range(len(STREAM)):
        out += parser.feed(STREAM[i : i + 1])
    assert out == EXPECTED and not parser.pending


def test_every_truncated_prefix_gives_only_whole_packets_so_far() -> None:
    for cut in range(len(STREAM) + 1):
        parser = Parser()
        got = parser.feed(STREAM[:cut])
        assert got == EXPECTED[: len(got)]
        assert len(got) == sum(1 for end in BOUNDARIES if end <= cut)
        assert parser.pending == (cut not in (0, *BOUNDARIES))
        assert parser.feed(STREAM[cut:]) == EXPECTED[len(got) :]  # and the rest completes it


def test_bare_lf_blank_lines_between_packets_and_colonless_output() -> None:
    raw = b"\r\n\nResponse: Follows\nPrivilege: Command\nsome output line\n--END COMMAND--\n\n"
    assert Parser(banner=False).feed(raw) == [
        Message(
            (
                ("Response", "Follows"),
                ("Privilege", "Command"),
                ("Output", "some output line"),
                ("Output", "--END COMMAND--"),
            )
        )
    ]


def test_latin1_caller_names_survive() -> None:
    (msg,) = Parser(banner=False).feed(b"Event: Newchannel\r\nCallerIDName: Jos\xe9\r\n\r\n")
    assert msg.get("CallerIDName") == "José"


def test_oversized_packets_and_lines_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError):
        Parser(banner=False, max_message=100).feed(b"Event: X\r\n" + b"K: " + b"v" * 200 + b"\r\n")
    with pytest.raises(ProtocolError):
        Parser(banner=False, max_message=100).feed(b"x" * 101)  # no line end ever


def test_action_encoding_and_injection_is_refused() -> None:
    assert action("Login", "7", Username="gw", Secret="s3cret", Events="call,agent") == (
        b"Action: Login\r\nActionID: 7\r\nUsername: gw\r\nSecret: s3cret\r\nEvents: call,agent\r\n\r\n"
    )
    for bad in ({"Secret": "x\r\nAction: Originate"}, {"Secret": "x\ny"}):
        with pytest.raises(ValueError, match="line break"):
            action("Login", "1", **bad)
    for key in ("", "A: B", " Lead", "New\nline"):
        with pytest.raises(ValueError, match="invalid AMI key"):
            encode([(key, "v")])
    with pytest.raises(ValueError):
        encode([])


keys = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True)
values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=40
).map(str.strip)
packets = st.lists(st.tuples(keys, values), min_size=1, max_size=8)


@given(st.lists(packets, min_size=1, max_size=5), st.data())
def test_round_trip_of_any_packets_in_any_chunking(
    fields_list: list[list[tuple[str, str]]], data: st.DataObject
) -> None:
    wire = b"".join(encode(f) for f in fields_list)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=6)))
    parser, out = Parser(banner=False), []
    for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        out += parser.feed(wire[start:end])
    assert out == [Message(tuple(f)) for f in fields_list]


@given(st.binary(max_size=600))
def test_garbage_gives_messages_or_a_protocol_error_never_anything_else(blob: bytes) -> None:
    parser = Parser(max_message=256)
    try:
        for item in parser.feed(blob):
            assert isinstance(item, Banner | Message)
    except ProtocolError:
        pass
