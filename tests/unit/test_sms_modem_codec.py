"""The sans-I/O AT dialogue (3GPP TS 27.005 / 27.007, V.250): final result codes kept apart from
URCs even inside a command, every split of the byte stream, garbage; answer parsers; +CMS ERROR
classification; status-report bookkeeping and reassembly."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sms_modem import answers, codec, pdu, pdu_fields
from adapters.sms_modem.codec import AtError, AtSession, Final, FinalKind, Prompted, Response, Stray, Urc
from adapters.sms_modem.reports import PendingReports, Reassembly, same_number

CDS_PDU = "07915155000000F006010B915155214365F76211022143000062110221431500" + "00"
HELLO = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"


def run(command: str, incoming: bytes, *, payload: str | None = None, chunks: list[int] | None = None):
    """Feed `incoming` (in pieces cut at `chunks`) for one command; return events and bytes written."""
    s = AtSession()
    s.command(command, payload=payload)
    out = s.data_to_send()
    cuts = [0, *(chunks or []), len(incoming)]
    events = []
    for a, b in itertools.pairwise(cuts):
        s.receive_data(incoming[a:b])
        out += s.data_to_send()
        events += s.events_received()
    return events, out, s


OK = Final(FinalKind.OK, None, "OK")

DIALOGUES = [
    pytest.param("AT", b"\r\nOK\r\n", [Response("AT", (), OK)], id="ok"),
    pytest.param("AT", b"AT\r\r\nOK\r\n", [Response("AT", (), OK)], id="echo"),
    pytest.param(
        "AT+CPIN?",
        b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n",
        [Response("AT+CPIN?", ("+CPIN: SIM PIN",), OK)],
        id="cpin",
    ),
    pytest.param(
        "AT+CREG?",
        b"\r\n+CREG: 0,1\r\n\r\nOK\r\n",
        [Response("AT+CREG?", ("+CREG: 0,1",), OK)],
        id="creg-answer-not-urc",
    ),
    pytest.param(
        "AT+CSQ",
        b'\r\n+CMTI: "SM",2\r\n\r\n+CSQ: 21,99\r\n\r\nOK\r\n',
        [Urc("+CMTI", '"SM",2'), Response("AT+CSQ", ("+CSQ: 21,99",), OK)],
        id="urc-inside-a-command",
    ),
    pytest.param(
        "AT+CMGF=0",
        b"\r\n+CMS ERROR: 302\r\n",
        [Response("AT+CMGF=0", (), Final(FinalKind.CMS_ERROR, 302, "+CMS ERROR: 302"))],
        id="cms-error",
    ),
    pytest.param(
        "AT+CPIN?",
        b"\r\n+CME ERROR: SIM not inserted\r\n",
        [Response("AT+CPIN?", (), Final(FinalKind.CME_ERROR, None, "+CME ERROR: SIM not inserted"))],
        id="cme-error-verbose",
    ),
    pytest.param(
        "AT+CMGR=3",
        b"\r\n+CMGR: 0,,28\r\n" + HELLO.encode() + b"\r\n\r\nOK\r\n",
        [
            Response(
                "AT+CMGR=3",
                ("+CMGR: 0,,28", HELLO),
                OK,
            )
        ],
        id="cmgr-pdu-line-is-an-answer",
    ),
    pytest.param(
        "AT+CGSN",
        b"\r\n356938035643809\r\n\r\nOK\r\n",
        [Response("AT+CGSN", ("356938035643809",), OK)],
        id="bare-info-line",
    ),
    pytest.param(
        "AT+CMEE=1;+CREG?",
        b"\r\n+CREG: 0,5\r\n\r\nOK\r\n",
        [Response("AT+CMEE=1;+CREG?", ("+CREG: 0,5",), OK)],
        id="chained",
    ),
]


@pytest.mark.parametrize(("command", "incoming", "expected"), DIALOGUES)
def test_dialogues(command, incoming, expected):
    events, out, s = run(command, incoming)
    assert events == expected
    assert out == command.encode() + b"\r"
    assert not s.busy


@pytest.mark.parametrize(("command", "incoming", "expected"), DIALOGUES)
def test_dialogues_survive_every_split_and_a_byte_at_a_time(command, incoming, expected):
    for cut in range(1, len(incoming)):
        events, _, _ = run(command, incoming, chunks=[cut])
        assert events == expected, cut
    events, _, _ = run(command, incoming, chunks=list(range(1, len(incoming))))
    assert events == expected


@pytest.mark.parametrize(("command", "incoming", "expected"), DIALOGUES)
def test_every_truncated_prefix_completes_nothing(command, incoming, expected):
    final_at = incoming.rstrip(b"\r\n").rfind(b"\n") + 1  # where the final result line starts
    for cut in range(final_at):
        events, _, s = run(command, incoming[:cut])
        assert not any(isinstance(e, Response) for e in events), cut
        assert s.busy


SEND = (
    b"\r\n> "  # the prompt, no line end (27.005 §3.5.1)
    + b'\r\n+CMTI: "SM",4\r\n'  # between `>` and +CMGS
    + b"\r\n+CDS: 25\r\n"
    + CDS_PDU.encode()
    + b"\r\nRING\r\n"
    + b"\r\n+CMGS: 17\r\n\r\nOK\r\n"
)


def test_urcs_between_the_prompt_and_cmgs_never_break_a_send():
    for cut in range(1, len(SEND)):
        events, out, _ = run("AT+CMGS=41", SEND, payload="00AA", chunks=[cut])
        assert out == b"AT+CMGS=41\r00AA\x1a", cut
        assert events == [
            Prompted("AT+CMGS=41"),
            Urc("+CMTI", '"SM",4'),
            Urc("+CDS", "25", CDS_PDU),
            Urc("RING", ""),
            Response("AT+CMGS=41", ("+CMGS: 17",), OK),
        ], cut
        assert answers.parse_cmgs(events[-1].info) == 17


def test_prompt_with_echo_of_command_and_pdu():
    incoming = b"AT+CMGS=41\r\r\n> 00AA\x1a\r\n+CMGS: 3\r\n\r\nOK\r\n"
    events, out, _ = run("AT+CMGS=41", incoming, payload="00AA")
    assert out == b"AT+CMGS=41\r00AA\x1a"
    assert events == [Prompted("AT+CMGS=41"), Response("AT+CMGS=41", ("+CMGS: 3",), OK)]


def test_error_instead_of_a_prompt_writes_no_pdu():
    events, out, _ = run("AT+CMGS=41", b"\r\n+CMS ERROR: 304\r\n", payload="00AA")
    assert out == b"AT+CMGS=41\r"
    assert events[0].final == Final(FinalKind.CMS_ERROR, 304, "+CMS ERROR: 304")


def test_a_gt_that_is_not_awaited_is_not_a_prompt():
    events, out, _ = run("AT", b"\r\n> weird\r\n\r\nOK\r\n")
    assert out == b"AT\r" and events[-1] == Response("AT", ("> weird",), OK)


def test_abandon_at_the_prompt_sends_escape_and_late_answers_are_stray():
    s = AtSession()
    s.command("AT+CMGS=41", payload="00AA")
    s.abandon()
    assert s.data_to_send() == b"AT+CMGS=41\r\x1b"
    s.receive_data(b"\r\n> \r\nOK\r\n")
    assert s.events_received() == [Urc(">", ""), Stray("OK")]
    assert not s.busy
    s.command("AT")
    s.receive_data(b"\r\nOK\r\n")
    assert s.events_received() == [Response("AT", (), OK)]


def test_idle_urcs_including_two_line_ones():
    s = AtSession()
    s.receive_data(
        b'\r\n+CMT: ,24\r\n0791AB\r\n\r\n+CREG: 2\r\n\r\n^BOOT:1,0,0,4\r\n+CDS: 6,1,"+1",145,"a","b",0\r\n'
    )
    assert s.events_received() == [
        Urc("+CMT", ",24", "0791AB"),
        Urc("+CREG", "2"),
        Urc("^BOOT", "1,0,0,4"),
        Urc("+CDS", '6,1,"+1",145,"a","b",0'),  # text mode: one line
    ]


def test_overlong_garbage_line_is_dropped():
    s = AtSession()
    s.receive_data(b"x" * (codec.MAX_LINE + 10))
    assert isinstance(s.events_received()[0], Stray)
    s.command("AT")
    s.receive_data(b"\r\nOK\r\n")
    assert s.events_received() == [Response("AT", (), OK)]


@pytest.mark.parametrize(
    ("text", "payload"), [("AT\r", None), ("ATD123;\n", None), ("+CMGS=1", None), ("AT+CMGS=1", "0\x1a")]
)
def test_misuse_raises_at_error(text, payload):
    with pytest.raises(AtError):
        AtSession().command(text, payload=payload)


def test_one_command_at_a_time():
    s = AtSession()
    s.command("AT")
    with pytest.raises(AtError):
        s.command("AT")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=12), st.booleans())
def test_garbage_never_escapes(chunks, with_command):
    s = AtSession()
    if with_command:
        s.command("AT+CMGS=10", payload="00")
    for chunk in chunks:
        s.receive_data(chunk)
        s.data_to_send()
    for event in s.events_received():
        assert isinstance(event, Response | Urc | Prompted | Stray)


# ---- answer parsers ----------------------------------------------------------------------------
def test_parsers():
    assert answers.parse_cpin(("+CPIN: READY",)) == "READY"
    assert answers.parse_creg(('+CREG: 2,5,"00A1","1B2C"',)) == 5
    assert answers.parse_creg(("+CGREG: 0,1",), "+CGREG") == 1
    assert answers.parse_csq(("+CSQ: 31,99",)) == (31, 99)
    assert answers.rssi_dbm(0) == -113 and answers.rssi_dbm(31) == -51 and answers.rssi_dbm(99) is None
    assert answers.parse_cmti('"SM",12') == ("SM", 12)
    assert answers.parse_cmgs(("+CMGS: 255",)) == 255
    assert answers.parse_cmgs(('+CMGS: 4,"26/11/22,10:00:00+00"',)) == 4
    assert answers.parse_cmgr(('+CMGR: 1,"name, with comma",28', "0791")) == (1, 28, "0791")
    assert answers.parse_cmgl(("+CMGL: 1,0,,24", "AA", "+CMGL: 4,1,,25", "BB")) == [
        (1, 0, 24, "AA"),
        (4, 1, 25, "BB"),
    ]
    assert answers.parse_cmt(",24") == 24 and answers.parse_cmt('"alpha",30') == 30


@pytest.mark.parametrize(
    ("fn", "arg"),
    [
        (answers.parse_cmgs, ("+CMGS: 256",)),
        (answers.parse_cmgs, ("+CMGS: x",)),
        (answers.parse_cmgs, ("OK",)),
        (answers.parse_creg, ("+CREG: 1",)),
        (answers.parse_csq, ("+CSQ: 1",)),
        (answers.parse_cmgr, ("+CMGR: 0,,28",)),
        (answers.parse_cmgl, ("+CMGL: 1,0,,24",)),
        (answers.parse_cmti, ('"SM"',)),
    ],
)
def test_parsers_refuse_malformed_answers(fn, arg):
    with pytest.raises(AtError):
        fn(arg[0] if fn is answers.parse_cmti else arg)


# ---- +CMS ERROR classification (27.005 §3.2.5 and the protocol notes) ---------------------------
@pytest.mark.parametrize("code", [41, 42, 47, 192, 314, 331, 332, 500, 512, 513, 514, 515, 38])
def test_temporary_cms_errors(code):
    assert answers.classify_cms(code).temporary is True


@pytest.mark.parametrize(
    "code", [1, 8, 10, 21, 28, 29, 30, 195, 196, 197, 304, 305, 310, 311, 312, 313, 315, 316, 317, 318, 321]
)
def test_permanent_cms_errors(code):
    assert answers.classify_cms(code).temporary is False


@pytest.mark.parametrize(("code", "modem"), [(310, True), (311, True), (331, True), (330, True), (42, False)])
def test_modem_faults_are_told_apart(code, modem):
    assert answers.classify_cms(code).modem_fault is modem


def test_unnumbered_and_unlisted_errors():
    assert answers.classify_cms(None, "ERROR").temporary is True
    assert answers.classify_cms(99).temporary is False  # an unlisted TP/RP cause
    assert answers.classify_cms(777).temporary is True  # an unlisted vendor code
    assert "congestion" in answers.classify_cms(42).reason


# ---- status reports and reassembly -------------------------------------------------------------
WHEN = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


def report(mr: int, st: int = 0, to: str = "+447700900001") -> pdu.StatusReport:
    return pdu.StatusReport(mr, to, WHEN, WHEN, st)


def test_single_part_report_matches_once():
    p = PendingReports()
    p.expect(modem="m1", mrs=[5], destination="+447700900001", ref="m1:5:+447700900001")
    assert p.match("m2", report(5)) is None  # another modem's TP-MR 5
    assert p.match("m1", report(5, to="+447700900002")) is None  # another recipient
    outcome = p.match("m1", report(5))
    assert outcome is not None and outcome.delivered and outcome.channel_ref == "m1:5:+447700900001"
    assert p.match("m1", report(5)) is None  # a duplicate is ignored
    assert len(p) == 0


def test_multipart_needs_every_part_and_fails_on_one():
    p = PendingReports()
    p.expect(modem="m1", mrs=[1, 2, 3], destination="07700900001", ref="r")
    assert p.match("m1", report(1)) is None
    assert p.match("m1", report(2, st=0x21)) is None  # SC still trying
    assert p.match("m1", report(3)) is None
    done = p.match("m1", report(2))
    assert done is not None and done.delivered and done.parts == 3
    p.expect(modem="m1", mrs=[4, 5], destination="+447700900001", ref="s")
    failed = p.match("m1", report(5, st=0x46))
    assert failed is not None and not failed.delivered and len(p) == 0


def test_wrapped_tp_mr_replaces_the_old_message():
    p = PendingReports()
    p.expect(modem="m1", mrs=[255, 0], destination="+447700900001", ref="old")
    p.expect(modem="m1", mrs=[0], destination="+447700900001", ref="new")
    got = p.match("m1", report(0))
    assert got is not None and got.channel_ref == "new"


def test_same_number_spellings():
    assert same_number("+447700900001", "07700900001")
    assert not same_number("+447700900001", "+447700900002")
    assert same_number("Callout", "callout")


def _deliver(
    text: str, concat: pdu_fields.Concat | None = None, sender: str = "+447700900001"
) -> pdu.Deliver:
    return pdu.Deliver(sender, text, WHEN, concat=concat)


def test_reassembly_in_any_order_and_expiry():
    r = Reassembly(timeout=10)
    assert r.add("m1", _deliver("hi"), 0) == [("+447700900001", "hi", 1)]
    assert r.add("m1", _deliver("world", pdu_fields.Concat(9, 2, 2)), 1) == []
    assert r.add("m1", _deliver("hello ", pdu_fields.Concat(9, 2, 1)), 2) == [
        ("+447700900001", "hello world", 2)
    ]
    assert r.add("m1", _deliver("lonely", pdu_fields.Concat(3, 3, 1)), 5) == []
    assert r.expire(14) == []
    assert r.expire(15) == [("+447700900001", "lonely", 1)]


# ---- options ----------------------------------------------------------------------------------------
def test_options_validate_and_size_the_channel():
    from pydantic import ValidationError

    from adapters.sms_modem.options import Options

    opts = Options(
        modems=[{"name": "m1", "device": "/dev/ttyUSB2"}, {"name": "m2", "device": "tcp://10.0.0.5:7000"}]
    )
    assert opts.capacity == 4 * 153 and Options(modems=opts.modems, max_parts=1).capacity == 160
    for bad in (
        {"modems": []},
        {"modems": [{"name": "m1", "device": "tcp://host"}]},
        {"modems": [{"name": "m1", "device": "/dev/x"}, {"name": "m1", "device": "/dev/y"}]},
        {"modems": [{"name": "m1", "device": "/dev/x", "pin": "12"}]},
        {"modems": [{"name": "m1", "device": "/dev/x"}], "unknown": 1},
        {"modems": [{"name": "m1", "device": "/dev/x", "speed": 9600}]},
    ):
        with pytest.raises(ValidationError):
            Options(**bad)


def test_final_of():
    assert codec.final_of("+CMS ERROR: 500") == Final(FinalKind.CMS_ERROR, 500, "+CMS ERROR: 500")
    assert codec.final_of("NO CARRIER") is not None and codec.final_of("+CMGS: 1") is None


@pytest.mark.parametrize("code", ["\u00b938", "3\u00b2", "\u0663\u0668"])  # ¹38, 3², Arabic-Indic 38
def test_error_code_in_non_ascii_digits_is_an_unknown_code_not_a_crash(code):
    """Found by tests/fuzz: `str.isdigit` accepts superscripts, `int` refuses them; the session
    raised ValueError and the modem link dropped. Now the code is unknown (None)."""
    s = AtSession()
    s.command("AT+CMGS=41", payload="00")
    s.receive_data(f"\r\n+CMS ERROR: {code}\r\n".encode("latin-1", "replace"))
    (response,) = [e for e in s.events_received() if isinstance(e, Response)]
    assert response.final.kind is FinalKind.CMS_ERROR and response.final.code is None
    with pytest.raises(AtError):
        answers.parse_cmgs((f"+CMGS: {code}",))
