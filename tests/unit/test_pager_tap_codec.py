"""The TAP 1.8 codec (sans-I/O): checksum, blocks, transparency, and the session state machine
driven by scripted central transcripts and explicit times."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.pager_tap.blocks import (
    ETB,
    ETX,
    MAX_BLOCK,
    SUB,
    US,
    Block,
    Response,
    Scanner,
    TapFormatError,
    Token,
    checksum,
    decode_block,
    decode_transaction,
    encode_transaction,
    parse_response,
    to_seven_bit,
    unescape_field,
)
from adapters.pager_tap.session import (
    Closed,
    CloseReason,
    PageDone,
    PageOutcome,
    Ready,
    SessionError,
    State,
    TapSession,
    Timers,
)

# ---- checksum (§5, §6) --------------------------------------------------------------------------
CHECKSUMS = [
    (b"\x02123\rABC\r\x03", b"17;"),  # the spec's own example: 379 = 0x17B
    (b"\x02\x03", b"005"),  # 2 + 3
    (b"\x02A\r\x03", b"053"),  # 2 + 65 + 13 + 3 = 83 = 0x053
    (b"\x02\xc1\x03", b"046"),  # 8-bit input counts as 7-bit: 0xC1 → 0x41; 70 = 0x046
    (b"\x02" + b"\x7f" * 40 + b"\x03", b"3=="),  # 5085 = 0x13DD: only the low 12 bits, 0x3DD
]


@pytest.mark.parametrize(("block", "expected"), CHECKSUMS)
def test_checksum_table(block, expected):
    assert checksum(block) == expected


def test_the_spec_example_block_frames_exactly():
    assert encode_transaction(["123", "ABC"]) == [b"\x02123\rABC\r\x0317;\r"]


# ---- fields and blocks (§3, §4) -----------------------------------------------------------------
def framed(data: bytes, term: int) -> bytes:
    body = b"\x02" + data + bytes((term,))
    return body + checksum(body) + b"\r"


@pytest.mark.parametrize(
    ("fields", "data", "kwargs"),
    [
        (["1001", "hello"], b"1001\rhello\r", {}),
        (["1001", "a\tb"], b"1001\ra\x1aIb\r", {}),  # TAP 1.6+ transparency: SUB, c + 0x40
        (["1001", "a\x1bb"], b"1001\ra\x1a[b\r", {}),
        (["1001", "a\tb"], b"1001\ra b\r", {"transparency": False}),
        (["1001", "caf\u00e9 \u00fcber"], b"1001\rcafe uber\r", {}),  # accents dropped, not masked
        (["1001", "\u20ac5 \u4e2d"], b"1001\r?5 ?\r", {}),
        (["1001", ""], b"1001\r\r", {}),
    ],
)
def test_single_block_encoding_table(fields, data, kwargs):
    assert encode_transaction(fields, **kwargs) == [framed(data, ETX)]


def test_a_block_that_ends_inside_a_field_is_terminated_with_us():
    blocks = encode_transaction(["1234", "x" * 245])  # 5 + 245 = 250: the field's CR does not fit
    assert blocks == [framed(b"1234\r" + b"x" * 245, US), framed(b"\r", ETX)]
    assert all(len(b) <= MAX_BLOCK for b in blocks)
    assert len(blocks[0]) == MAX_BLOCK


def test_a_block_that_ends_on_a_field_boundary_is_terminated_with_etb():
    blocks = encode_transaction(["1234", "x" * 244, "y"])  # 5 + 244 + 1 = 250 exactly
    assert blocks == [framed(b"1234\r" + b"x" * 244 + b"\r", ETB), framed(b"y\r", ETX)]


def test_a_sub_pair_is_never_split_across_blocks():
    blocks = encode_transaction(["12", "\t" * 130])  # 3 + 2 * 123 = 249; the next pair would be 251
    assert [len(b) - 6 for b in blocks] == [249, 15]
    assert blocks[0][-6] != SUB and blocks[0][-5] == US
    assert decode_transaction([decode_block(b) for b in blocks]) == ["12", "\t" * 130]


def test_a_long_message_splits_into_full_blocks():
    blocks = encode_transaction(["1001", "m" * 1000])
    assert [len(b) for b in blocks] == [256, 256, 256, 256, 12]  # 1006 characters of fields
    assert [b[-5] for b in blocks] == [US, US, US, US, ETX]


@given(
    pin=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=16),
    text=st.text(max_size=700),
    transparency=st.booleans(),
)
def test_round_trip(pin, text, transparency):
    blocks = encode_transaction([pin, text], transparency=transparency)
    assert all(len(b) <= MAX_BLOCK for b in blocks)
    assert all(b < 0x80 for blk in blocks for b in blk)  # §2: 7-bit on the wire
    expected = to_seven_bit(text)
    if not transparency:
        expected = "".join(" " if ord(c) < 0x20 else c for c in expected)
    assert decode_transaction([decode_block(b) for b in blocks]) == [pin, expected]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\x021001\rhi\r\x03" + b"000\r", 514),
        (b"1001\rhi\r\x03xyz\r", 515),  # no STX
        (b"\x021001\rhi\r\x0a2?5\r", 515),  # no terminator
        (framed(b"1001\rhi\r", ETX)[:-1] + b"\n", 515),  # no final CR
        (b"\x02" + b"x" * 251 + b"\x03abc\r", 515),  # 257 characters
        (b"\x0210\x0301\r\x03abc\r", 515),  # terminator inside the data
    ],
)
def test_bad_blocks_table(raw, code):
    with pytest.raises(TapFormatError) as err:
        decode_block(raw)
    assert err.value.code == code


def test_every_truncated_prefix_of_a_block_is_rejected():
    raw = encode_transaction(["1001", "Unit 12 to Stn 4"])[0]
    assert decode_block(raw) == Block(b"1001\rUnit 12 to Stn 4\r", ETX)
    for k in range(len(raw)):
        with pytest.raises(TapFormatError):
            decode_block(raw[:k])


def test_a_transaction_needs_exactly_one_final_block():
    blocks = [decode_block(b) for b in encode_transaction(["1", "x" * 300])]
    with pytest.raises(TapFormatError):
        decode_transaction(blocks[:1])
    with pytest.raises(TapFormatError):
        decode_transaction(blocks + blocks)


@given(st.binary(max_size=300))
def test_garbage_blocks_only_ever_raise_the_format_error(data):
    try:
        decode_block(data)
    except TapFormatError as exc:
        assert exc.code in (514, 515)


# ---- responses (Appendix A) and the scanner -----------------------------------------------------
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"211 Page(s) Sent Successfully", Response("211", "Page(s) Sent Successfully")),
        (b"110 1.8", Response("110", "1.8")),
        (b"511", Response("511", "")),
        (b"214 Character maximum 80, truncated", Response("214", "Character maximum 80, truncated")),
        (b"2111 nope", None),
        (b"Welcome to PageNet", None),
        (b"ID=", None),
    ],
)
def test_response_table(line, expected):
    assert parse_response(line) == expected


@pytest.mark.parametrize(
    ("response", "max_length"),
    [(Response("214", "max 80 chars"), 80), (Response("517", "240"), 240), (Response("211", "80"), None)],
)
def test_length_codes_carry_the_maximum(response, max_length):
    assert response.max_length == max_length


def test_scanner_splits_tokens_and_lines_and_masks_parity():
    sc = Scanner()
    sc.expect_id = True
    assert sc.feed(b"Welcome\r\nID=") == [b"Welcome", Token.ID]
    sc.expect_id = False
    # a parity bit set on ACK (0x86) and CR (0x8D); text glued to a control character
    got = sc.feed(b"110 1.8\x8d\x86\x8d211 ok\x06\r\x1b[p\x1b\x04\x15\x1e")
    assert got == [b"110 1.8", Token.ACK, b"211 ok", Token.ACK, Token.GO_AHEAD, Token.DISCONNECT,
                   Token.NAK, Token.RS]  # fmt: skip


@given(st.binary(max_size=400), st.booleans())
def test_scanner_never_raises_on_garbage(data, expect_id):
    sc = Scanner()
    sc.expect_id = expect_id
    for item in sc.feed(data):
        assert isinstance(item, Token | bytes)
        if isinstance(item, bytes):
            assert 0 < len(item) <= 512


# ---- the session (§3 steps 3-12, §7 timers) ------------------------------------------------------
FAST = Timers(wake_interval=2.0, wake_tries=3, response_timeout=10.0, logon_tries=3, block_retries=3)
LOGON_OK = b"ID=\r110 1.8\r114 Welcome\r\x06\r\x1b[p\r"


def logged_on(password: str = "") -> TapSession:
    s = TapSession(password=password, timers=FAST)
    s.start(0.0)
    s.receive_data(LOGON_OK, 0.5)
    assert s.state is State.READY
    s.data_to_send()
    s.events()
    return s


def test_the_spec_sample_session():
    s = TapSession(timers=FAST)
    s.start(0.0)
    assert s.data_to_send() == b"\r" and s.deadline == 2.0
    s.receive_data(b"ID=", 0.3)
    assert s.data_to_send() == b"\x1bPG1\r" and s.state is State.LOGON and s.deadline == 10.3
    s.receive_data(b"110 1.8\r114 Welcome\r\x06\r", 0.6)
    assert s.state is State.GO_AHEAD and s.events() == []
    s.receive_data(b"\x1b[p\r", 0.7)
    assert s.events() == [Ready((Response("110", "1.8"), Response("114", "Welcome")))]
    ref = s.submit(["5551234", "Unit 12 to Stn 4"], 1.0)
    assert s.data_to_send() == encode_transaction(["5551234", "Unit 12 to Stn 4"])[0]
    s.receive_data(b"211 Page(s) Sent Successfully\r\x06\r", 1.5)
    (done,) = s.events()
    assert done == PageDone(ref, PageOutcome.ACCEPTED, (Response("211", "Page(s) Sent Successfully"),),
                            "accepted", 1, 0)  # fmt: skip
    s.logoff(2.0)
    assert s.data_to_send() == b"\x04\r"
    s.receive_data(b"115 Goodbye\r\x1b\x04\r", 2.2)
    assert s.events() == [Closed(CloseReason.LOGGED_OFF, "goodbye", (Response("115", "Goodbye"),))]
    assert s.state is State.CLOSED and s.deadline is None


def test_every_split_of_a_central_transcript_gives_the_same_events():
    answer = b"211 Page(s) Sent Successfully\r\x06\r"
    for k in range(len(LOGON_OK) + 1):
        s = TapSession(timers=FAST)
        s.start(0.0)
        s.receive_data(LOGON_OK[:k], 0.1)
        s.receive_data(LOGON_OK[k:], 0.2)
        assert s.events() == [Ready((Response("110", "1.8"), Response("114", "Welcome")))], k
        for j in range(len(answer) + 1):
            ref = s.submit(["1", "x"], 0.3)
            s.receive_data(answer[:j], 0.4)
            s.receive_data(answer[j:], 0.5)
            (done,) = s.events()
            assert (done.ref, done.outcome, done.last) == (
                ref,
                PageOutcome.ACCEPTED,
                Response("211", "Page(s) Sent Successfully"),
            )


def test_wake_up_cr_every_t1_then_silent_after_n1():
    s = TapSession(timers=FAST)
    s.start(0.0)
    assert s.data_to_send() == b"\r"
    s.tick(1.9)
    assert s.data_to_send() == b""
    s.tick(2.0)
    assert s.data_to_send() == b"\r" and s.deadline == 4.0
    s.tick(4.0)
    assert s.data_to_send() == b"\r" and s.deadline == 6.0
    s.tick(6.0)
    assert s.events() == [Closed(CloseReason.SILENT, "no ID= after 3 CRs", ())]
    assert s.data_to_send() == b""


@pytest.mark.parametrize(
    "prompt", [b"ID=", b"ID=\r", b"PAGING CENTRAL\r\nID=", b"ID=\rID=\rID=\r", b"ID=ID=", b"ID=\rID="]
)
def test_id_prompt_variants_give_exactly_one_logon(prompt):
    s = TapSession(password="AB12", timers=FAST)
    s.start(0.0)
    s.data_to_send()
    s.receive_data(prompt, 0.1)
    assert s.data_to_send() == b"\x1bPG1AB12\r"
    s.receive_data(b"110 1.8\r\x06\r\x1b[p\r", 0.2)  # extra prompts before this are flushed
    assert s.state is State.READY and s.events() == [Ready((Response("110", "1.8"),))]
    assert s.data_to_send() == b""


def test_logon_nak_is_retried_then_refused_after_n3():
    s = TapSession(timers=FAST)
    s.start(0.0)
    s.receive_data(b"ID=", 0.1)
    s.data_to_send()
    for t in (0.2, 0.3):
        s.receive_data(b"509 Invalid password\r\x15\r", t)
        assert s.data_to_send() == b"\x1bPG1\r"
    s.receive_data(b"509 Invalid password\r\x15\r", 0.4)
    (closed,) = s.events()
    assert closed.reason is CloseReason.REFUSED and closed.responses[-1].code == "509"


def test_logon_refused_with_esc_eot_keeps_the_code():
    s = TapSession(timers=FAST)
    s.start(0.0)
    s.receive_data(b"ID=\r", 0.1)
    s.receive_data(b"509 Invalid logon\r\x1b\x04\r", 0.2)
    assert s.events() == [Closed(CloseReason.REFUSED, "logon refused", (Response("509", "Invalid logon"),))]


def test_early_go_ahead_without_ack():
    s = TapSession(timers=FAST)
    s.start(0.0)
    s.receive_data(b"ID=\r\x1b[p\r", 0.1)
    assert s.state is State.READY and isinstance(s.events()[0], Ready)


@pytest.mark.parametrize(("state_after_id", "answer"), [("logon", b""), ("go_ahead", b"\x06\r")])
def test_no_answer_during_logon_is_silence(state_after_id, answer):
    s = TapSession(timers=FAST)
    s.start(0.0)
    s.receive_data(b"ID=" + answer, 0.1)
    assert s.state == state_after_id
    s.tick(10.0)
    assert s.state is State.LOGON or s.state is State.GO_AHEAD  # not yet: deadline is 10.1
    s.tick(10.1)
    (closed,) = s.events()
    assert closed.reason is CloseReason.SILENT


def test_nak_resends_the_same_block_up_to_n2_times_then_logs_off():
    s = logged_on()
    s.submit(["1001", "hello"], 1.0)
    block = s.data_to_send()
    for t in (1.1, 1.2, 1.3):
        s.receive_data(b"514 Checksum error\r\x15\r", t)
        assert s.data_to_send() == block and s.deadline == t + 10.0
    s.receive_data(b"514 Checksum error\r\x15\r", 1.4)
    (done,) = s.events()
    assert (
        done.outcome is PageOutcome.FAILED
        and done.resends == 3
        and done.last == Response("514", "Checksum error")
    )
    assert s.data_to_send() == b"\x04\r" and s.state is State.LOGOFF
    s.receive_data(b"115 Goodbye\r\x1b\x04\r", 1.5)
    assert s.events()[0].reason is CloseReason.GAVE_UP


def test_rs_rejects_one_transaction_and_the_session_goes_on():
    s = logged_on()
    ref = s.submit(["999", "x"], 1.0)
    s.data_to_send()
    s.receive_data(b"511 Invalid Pager ID\r\x1e\r", 1.1)
    assert s.events() == [
        PageDone(ref, PageOutcome.REJECTED, (Response("511", "Invalid Pager ID"),), "rejected", 1, 0)
    ]
    assert s.state is State.READY
    s.submit(["1001", "y"], 1.2)
    assert s.data_to_send().startswith(b"\x021001\r")


def test_forced_disconnect_on_a_block_fails_the_page_and_closes():
    s = logged_on()
    s.submit(["1001", "x"], 1.0)
    s.receive_data(b"112 Maximum pages entered for session\r\x1b\x04\r", 1.1)
    done, closed = s.events()
    assert done.outcome is PageOutcome.FAILED and done.last.code == "112"
    assert closed.reason is CloseReason.DISCONNECTED and closed.responses[0].code == "112"


def test_a_multi_block_transaction_waits_for_each_ack():
    s = logged_on()
    blocks = encode_transaction(["1001", "z" * 400])
    s.submit(["1001", "z" * 400], 1.0)
    assert s.data_to_send() == blocks[0]
    s.receive_data(b"\x06\r", 1.1)
    assert s.data_to_send() == blocks[1] and s.events() == []
    s.receive_data(b"211 Sent\r\x06\r", 1.2)
    (done,) = s.events()
    assert done.outcome is PageOutcome.ACCEPTED and done.blocks == 2


def test_block_timeout_is_silence_and_line_loss_is_a_dropped_line():
    s = logged_on()
    s.submit(["1001", "x"], 1.0)
    s.tick(11.0)
    done, closed = s.events()
    assert done.outcome is PageOutcome.FAILED and closed.reason is CloseReason.SILENT
    s = logged_on()
    s.submit(["1001", "x"], 1.0)
    s.connection_lost()
    done, closed = s.events()
    assert done.reason == "line dropped" and closed.reason is CloseReason.LINE_DROPPED


def test_a_modem_no_carrier_line_drops_the_session():
    s = TapSession(timers=FAST, hangup_lines=("NO CARRIER",))
    s.start(0.0)
    s.receive_data(LOGON_OK, 0.1)
    s.events()
    s.submit(["1001", "x"], 1.0)
    s.receive_data(b"\r\nNO CARRIER\r\n", 1.1)
    done, closed = s.events()
    assert done.outcome is PageOutcome.FAILED and closed == Closed(CloseReason.LINE_DROPPED, "NO CARRIER", ())


def test_calls_in_the_wrong_state_are_refused():
    s = TapSession(timers=FAST)
    with pytest.raises(SessionError):
        s.submit(["1", "x"], 0.0)
    s.start(0.0)
    with pytest.raises(SessionError):
        s.start(0.0)
    with pytest.raises(SessionError):
        s.logoff(0.0)


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=40), max_size=12), st.lists(st.floats(0, 30), max_size=12))
def test_a_session_fed_garbage_never_raises_and_always_has_a_state(chunks, ticks):
    s = TapSession(timers=FAST)
    s.start(0.0)
    for i, chunk in enumerate(chunks):
        s.receive_data(chunk, float(i))
        if s.state is State.READY:
            s.submit(["1001", "x"], float(i))
        if i < len(ticks):
            s.tick(ticks[i])
        for ev in s.events():
            assert isinstance(ev, Ready | PageDone | Closed)
        assert s.state in State
        assert s.deadline is None or s.state is not State.CLOSED


@pytest.mark.parametrize("field", [b"\xe9", b"caf\xe9", b"\x1aA\xff"])
def test_a_field_byte_above_7_bits_is_a_format_error(field):
    """Found by tests/fuzz: unescape_field raised UnicodeDecodeError; TAP fields are 7-bit."""
    with pytest.raises(TapFormatError) as caught:
        unescape_field(field)
    assert caught.value.code == 515
