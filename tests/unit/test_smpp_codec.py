"""SMPP 3.4 codec (sans-I/O): real PDUs as hex, round trips, every truncated prefix, garbage,
receipt text, UDH concatenation and data_coding."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.smpp import codec, content
from adapters.smpp.codec import (
    Bind,
    BindMode,
    BindResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    FramingError,
    GenericNack,
    MessageState,
    PduError,
    PduSplitter,
    SmppError,
    Status,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Tlv,
    Unbind,
    UnbindResp,
    UnknownCommandError,
)

# Hand-built from SMPP 3.4 §4 tables (not with our encoder): hex, and the PDU it must decode to.
DLR_TEXT = (
    b"id:1000001 sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 "
    b"stat:DELIVRD err:000 text:hello"
)
TABLE: list[tuple[str, str, codec.Pdu]] = [
    ("enquire_link", "00000010 00000015 00000000 00000001", EnquireLink(sequence=1)),
    ("enquire_link_resp", "00000010 80000015 00000000 00000001", EnquireLinkResp(sequence=1)),
    ("unbind", "00000010 00000006 00000000 00000002", Unbind(sequence=2)),
    ("unbind_resp", "00000010 80000006 00000000 00000002", UnbindResp(sequence=2)),
    ("generic_nack", "00000010 80000000 00000003 00000007", GenericNack(sequence=7, status=3)),
    (
        "bind_transceiver",
        "00000024 00000009 00000000 00000001 63616c6c6f757400 73656372657400 00 34 00 00 00",
        Bind(sequence=1, system_id="callout", password="secret"),
    ),
    (
        "bind_transmitter",
        "00000024 00000002 00000000 00000003 63616c6c6f757400 73656372657400 00 34 01 01 00",
        Bind(
            sequence=3,
            mode=BindMode.TRANSMITTER,
            system_id="callout",
            password="secret",
            addr_ton=1,
            addr_npi=1,
        ),
    ),
    (
        "bind_transceiver_resp",
        "0000001a 80000009 00000000 00000001 534d534300 0210 0001 34",
        BindResp(sequence=1, system_id="SMSC", tlvs=(Tlv(0x0210, b"\x34"),)),
    ),
    (
        "bind_transceiver_resp refused",
        "00000010 80000009 0000000e 00000001",
        BindResp(sequence=1, status=Status.ESME_RINVPASWD),
    ),
    (
        "submit_sm",
        "00000039 00000004 00000000 00000005 00 0500 43414c4c4f555400 0101 34343737303039303030303100"
        " 000000 00 00 01000000 05 68656c6c6f",
        SubmitSm(
            sequence=5,
            source_addr_ton=5,
            source_addr="CALLOUT",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900001",
            registered_delivery=1,
            short_message=b"hello",
        ),
    ),
    (
        "submit_sm_resp",
        "00000018 80000004 00000000 00000005 3130303030303100",
        SubmitSmResp(sequence=5, message_id="1000001"),
    ),
    (
        "submit_sm_resp throttled",
        "00000010 80000004 00000058 00000006",
        SubmitSmResp(sequence=6, status=Status.ESME_RTHROTTLED),
    ),
    (
        "deliver_sm receipt with TLVs",
        "000000ad00000005000000000000000900010134343737303039303030303100050043414c4c4f555400040000000000"
        "0000006869643a31303030303031207375623a30303120646c7672643a303031207375626d697420646174653a32363031"
        "30313132303020646f6e6520646174653a3236303130313132303120737461743a44454c49565244206572723a303030"
        "20746578743a68656c6c6f001e000831303030303031000427000102",
        DeliverSm(
            sequence=9,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900001",
            dest_addr_ton=5,
            destination_addr="CALLOUT",
            esm_class=4,
            short_message=DLR_TEXT,
            tlvs=(Tlv(Tag.RECEIPTED_MESSAGE_ID, b"1000001\0"), Tlv(Tag.MESSAGE_STATE, b"\x02")),
        ),
    ),
    (
        "deliver_sm MO, UCS2, UDH part 1/2",
        "0000003d00000005000000000000000300010134343737303039303030303100000000400000000000000800100500032a"
        "020100410043004b00202713",
        DeliverSm(
            sequence=3,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900001",
            esm_class=0x40,
            data_coding=8,
            short_message=bytes.fromhex("0500032a0201") + "ACK ✓".encode("utf-16-be"),
        ),
    ),
    ("deliver_sm_resp", "00000011 80000005 00000000 00000009 00", DeliverSmResp(sequence=9)),
]
IDS = [name for name, _, _ in TABLE]


def raw(hexstr: str) -> bytes:
    return bytes.fromhex(hexstr.replace(" ", ""))


@pytest.mark.parametrize(("name", "hexstr", "expected"), TABLE, ids=IDS)
def test_real_pdus_decode_and_encode_back_to_the_same_octets(name, hexstr, expected):
    data = raw(hexstr)
    assert codec.decode(data) == expected
    assert codec.encode(expected) == data


@pytest.mark.parametrize(("name", "hexstr", "expected"), TABLE, ids=IDS)
def test_every_truncated_prefix_is_incomplete_or_a_typed_error(name, hexstr, expected):
    data = raw(hexstr)
    for k in range(len(data)):
        # The splitter waits for more.
        assert PduSplitter().feed(data[:k]) == []
        # Decoding a prefix as if it were whole: the header's length disagrees.
        with pytest.raises(FramingError):
            codec.decode(data[:k])
        # A prefix whose command_length is patched to match: a shorter valid PDU or PduError.
        if k >= codec.HEADER_LEN:
            patched = struct.pack(">I", k) + data[4:k]
            try:
                pdu = codec.decode(patched)
            except PduError as exc:
                assert exc.sequence == expected.sequence and exc.command_id == expected.command_id
            else:
                assert type(pdu) is type(expected)


def test_splitter_takes_any_chunking_and_keeps_the_remainder():
    stream = b"".join(raw(h) for _, h, _ in TABLE)
    expected = [raw(h) for _, h, _ in TABLE]
    for size in (1, 2, 3, 7, 16, 17, 100, len(stream)):
        splitter = PduSplitter()
        frames: list[bytes] = []
        for i in range(0, len(stream), size):
            frames += splitter.feed(stream[i : i + size])
        assert frames == expected
        assert splitter.buffered == 0
    splitter = PduSplitter()
    assert splitter.feed(stream[:20]) == [stream[:16]]
    assert splitter.buffered == 4


@pytest.mark.parametrize("length", [0, 1, 15, 70_000])
def test_impossible_command_length_breaks_the_stream_for_good(length):
    splitter = PduSplitter()
    good = raw(TABLE[0][1])
    bad = struct.pack(">IIII", length, 0x15, 0, 1)
    with pytest.raises(FramingError) as err:
        splitter.feed(good + bad)
    assert err.value.command_length == length
    with pytest.raises(FramingError):
        splitter.feed(good)  # no silent resynchronisation


def test_unknown_command_and_bad_bodies_carry_what_a_generic_nack_needs():
    with pytest.raises(UnknownCommandError) as unknown:
        codec.decode(struct.pack(">IIII", 16, 0x00000103, 0, 42))  # data_sm: not implemented
    assert (unknown.value.status, unknown.value.sequence) == (Status.ESME_RINVCMDID, 42)
    with pytest.raises(PduError) as extra:
        codec.decode(struct.pack(">IIII", 17, 0x15, 0, 8) + b"\0")  # enquire_link has no body
    assert (extra.value.status, extra.value.sequence) == (Status.ESME_RINVCMDLEN, 8)
    submit = bytearray(raw(TABLE[9][1]))
    submit[-6] = 200  # sm_length beyond the PDU
    with pytest.raises(PduError) as short:
        codec.decode(bytes(submit))
    assert short.value.status == Status.ESME_RINVMSGLEN
    for tail in (b"\x04\x24\x00", b"\x04\x24\x00\x05ab"):  # a TLV cut in its header, in its value
        body = raw(TABLE[9][1])[16:] + tail
        with pytest.raises(PduError) as tlv:
            codec.decode(struct.pack(">IIII", 16 + len(body), 4, 0, 5) + body)
        assert tlv.value.status == Status.ESME_RINVOPTPARSTREAM


def test_encoding_refuses_values_the_spec_does_not_allow():
    with pytest.raises(codec.FieldError):
        codec.encode(Bind(sequence=1, system_id="x" * 16))  # §4.1.5: at most 15 + NUL
    with pytest.raises(codec.FieldError):
        codec.encode(SubmitSm(sequence=1, destination_addr="+44770090000é"))
    with pytest.raises(codec.FieldError):
        codec.encode(SubmitSm(sequence=1, short_message=b"x" * 255))
    with pytest.raises(codec.FieldError):
        codec.encode(EnquireLink(sequence=0x80000000))


def test_status_names_and_temporary_classes():
    assert codec.status_name(0x58) == "ESME_RTHROTTLED (0x58)"
    assert codec.status_name(0x1234) == "command_status 0x00001234"
    assert Status.ESME_RMSGQFUL in codec.TEMPORARY_STATUSES
    assert Status.ESME_RINVDSTADR not in codec.TEMPORARY_STATUSES


# ---- property tests ------------------------------------------------------------------------------
ascii_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
octet = st.integers(0, 255)


@st.composite
def short_messages(draw: st.DrawFn) -> codec.ShortMessage:
    cls = draw(st.sampled_from([SubmitSm, DeliverSm]))
    return cls(
        sequence=draw(st.integers(1, codec.MAX_SEQUENCE)),
        service_type=draw(ascii_text.map(lambda s: s[:5])),
        source_addr_ton=draw(octet),
        source_addr=draw(ascii_text),
        dest_addr_npi=draw(octet),
        destination_addr=draw(ascii_text),
        esm_class=draw(octet),
        registered_delivery=draw(octet),
        data_coding=draw(octet),
        short_message=draw(st.binary(max_size=254)),
        tlvs=tuple(
            Tlv(t, v) for t, v in draw(st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40))))
        ),
    )


@given(short_messages())
def test_any_short_message_round_trips(pdu):
    assert codec.decode(codec.encode(pdu)) == pdu


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.integers(1, 64))
def test_garbage_streams_give_frames_or_typed_errors_only(data, chunk):
    splitter = PduSplitter(max_length=512)
    try:
        for i in range(0, len(data), chunk):
            for frame in splitter.feed(data[i : i + chunk]):
                with contextlib.suppress(SmppError):
                    codec.decode(frame)
    except FramingError:
        pass


COMMANDS = [int(c) for c in codec.CommandId] + [0x7FFFFFFF, 0x80000103]


@given(st.sampled_from(COMMANDS), st.integers(0, 0xFFFFFFFF), st.binary(max_size=120))
def test_known_headers_with_random_bodies_give_pdus_or_typed_errors(command_id, seq, body):
    frame = struct.pack(">IIII", 16 + len(body), command_id, 0, seq) + body
    try:
        pdu = codec.decode(frame)
    except SmppError as exc:
        assert isinstance(exc, PduError | FramingError)
    else:
        assert pdu.sequence == seq


# ---- receipts (Appendix B) -----------------------------------------------------------------------
def test_nexmo_style_receipt_text():
    r = content.parse_receipt_text(
        "id:0000000012345678 sub:001 dlvrd:001 submit date:1601010100 done date:1601010101 "
        "stat:DELIVRD err:000 text:none"
    )
    assert r == content.ReceiptText(
        message_id="0000000012345678",
        stat="DELIVRD",
        sub="001",
        dlvrd="001",
        submit_date="1601010100",
        done_date="1601010101",
        err="000",
        text="none",
    )


@pytest.mark.parametrize(
    ("text", "message_id", "stat", "err", "body"),
    [
        # lower case keys, seconds in dates, `Text:` capitalised
        (
            "ID:abc12 SUB:001 DLVRD:000 SUBMIT DATE:260101120000 DONE DATE:260101120105 STAT:undeliv ERR:1 "
            "Text:hi",
            "abc12",
            "UNDELIV",
            "1",
            "hi",
        ),
        # fields missing, order changed
        ("stat:EXPIRED id:77", "77", "EXPIRED", "", ""),
        # free text containing words like keys is kept whole
        ("id:5 stat:DELIVRD err:000 text:stat:FAKE id:9", "5", "DELIVRD", "000", "stat:FAKE id:9"),
        # 3-digit err, extra spaces
        (
            "id:  9f3a  sub:001 dlvrd:001 submit date:2601011200 done date:2601011200 "
            "stat: REJECTD  err:063 text:",
            "9f3a",
            "REJECTD",
            "063",
            "",
        ),
    ],
)
def test_receipt_text_variants_seen_in_the_wild(text, message_id, stat, err, body):
    r = content.parse_receipt_text(text)
    assert (r.message_id, r.stat, r.err, r.text) == (message_id, stat, err, body)


@pytest.mark.parametrize("text", ["", "hello, on my way", "id: stat:DELIVRD", "sub:001 stat:DELIVRD"])
def test_text_that_is_not_a_receipt_is_a_typed_error(text):
    with pytest.raises(content.ReceiptFormatError):
        content.parse_receipt_text(text)


def test_receipt_text_formats_and_parses_back():
    r = content.ReceiptText(
        message_id="42", stat="DELIVRD", submit_date="2601011200", done_date="2601011201", text="x"
    )
    assert content.parse_receipt_text(content.format_receipt_text(r)) == content.ReceiptText(
        message_id="42",
        stat="DELIVRD",
        sub="001",
        dlvrd="001",
        submit_date="2601011200",
        done_date="2601011201",
        err="000",
        text="x",
    )


def test_deliver_sm_with_tlvs_is_a_final_receipt():
    pdu = codec.decode(raw(TABLE[12][1]))
    assert isinstance(pdu, DeliverSm)
    r = content.interpret_deliver(pdu)
    assert isinstance(r, content.Receipt)
    assert (r.message_id, r.state, r.final, r.delivered, r.from_tlv) == (
        "1000001",
        MessageState.DELIVERED,
        True,
        True,
        True,
    )


def test_receipt_from_tlvs_only_and_from_text_only_with_another_radix():
    tlv_only = DeliverSm(
        sequence=1,
        esm_class=0x04,
        tlvs=(
            Tlv.cstring(Tag.RECEIPTED_MESSAGE_ID, "77"),
            Tlv.u8(Tag.MESSAGE_STATE, MessageState.UNDELIVERABLE),
            Tlv(Tag.NETWORK_ERROR_CODE, b"\x03\x00\x22"),
        ),
    )
    r = content.interpret_deliver(tlv_only)
    assert isinstance(r, content.Receipt)
    assert (r.message_id, r.state, r.delivered, r.final, r.err) == (
        "77",
        MessageState.UNDELIVERABLE,
        False,
        True,
        "34",
    )
    text_only = DeliverSm(sequence=2, esm_class=0x04, short_message=b"id:F4243 stat:DELIVRD err:000")
    r = content.interpret_deliver(text_only)
    assert isinstance(r, content.Receipt) and not r.from_tlv
    assert content.receipt_reference(r, "hex") == "1000003"
    assert content.receipt_reference(r, "same") == "F4243"
    dec = content.interpret_deliver(DeliverSm(sequence=3, esm_class=4, short_message=b"id:255 stat:DELIVRD"))
    assert isinstance(dec, content.Receipt)
    assert content.receipt_reference(dec, "dec") == "ff"


def test_intermediate_receipts_are_not_final():
    r = content.interpret_deliver(DeliverSm(sequence=1, esm_class=0x04, short_message=b"id:1 stat:ENROUTE"))
    assert isinstance(r, content.Receipt) and not r.final
    r = content.interpret_deliver(DeliverSm(sequence=1, esm_class=0x04, short_message=b"id:1 stat:WEIRD"))
    assert isinstance(r, content.Receipt) and r.state is None and not r.final


def test_receipt_flag_without_id_is_a_typed_error():
    with pytest.raises(content.ReceiptFormatError):
        content.interpret_deliver(DeliverSm(sequence=1, esm_class=0x04, short_message=b"delivered!"))


# ---- mobile-originated, concatenation, data_coding -----------------------------------------------
def test_mobile_originated_ucs2_part_with_udh():
    pdu = codec.decode(raw(TABLE[13][1]))
    assert isinstance(pdu, DeliverSm)
    mo = content.interpret_deliver(pdu)
    assert mo == content.MobileOriginated(
        source="447700900001", source_ton=1, destination="", text="ACK ✓", concat=content.Concat(0x2A, 2, 1)
    )


def test_mobile_originated_with_sar_tlvs_and_message_payload():
    pdu = DeliverSm(
        sequence=1,
        source_addr="123",
        tlvs=(
            Tlv(Tag.MESSAGE_PAYLOAD, b"on scene"),
            Tlv.u16(Tag.SAR_MSG_REF_NUM, 300),
            Tlv.u8(Tag.SAR_TOTAL_SEGMENTS, 2),
            Tlv.u8(Tag.SAR_SEGMENT_SEQNUM, 2),
        ),
    )
    mo = content.interpret_deliver(pdu)
    assert isinstance(mo, content.MobileOriginated)
    assert (mo.text, mo.concat) == ("on scene", content.Concat(300, 2, 2))


def test_reassembler_joins_parts_in_any_order_and_forgets_old_ones():
    r = content.Reassembler(limit=2)
    assert r.add("a", content.Concat(1, 3, 3), "C") is None
    assert r.add("a", content.Concat(1, 3, 1), "A") is None
    assert r.add("b", content.Concat(1, 3, 1), "x") is None  # another sender, same reference
    assert r.add("a", content.Concat(1, 3, 2), "B") == "ABC"
    assert r.add("a", content.Concat(9, 1, 1), "solo") == "solo"
    for ref in range(3):
        r.add("c", content.Concat(ref, 2, 1), "old")
    assert r.add("c", content.Concat(0, 2, 2), "new") is None  # part 1 of ref 0 was dropped


def test_gsm7_alphabet_round_trips_and_escapes_the_extension_table():
    everything = content.GSM7_BASIC.replace("\x1b", "") + "".join(content.GSM7_EXTENSION)
    encoded = content.gsm7_encode(everything)
    assert len(encoded) == 127 + 2 * len(content.GSM7_EXTENSION)
    assert content.gsm7_decode(encoded) == everything
    assert content.gsm7_encode("@€[") == b"\x00\x1b\x65\x1b\x3c"
    assert content.gsm7_decode(b"\x1b") == "?"  # dangling escape
    assert content.gsm7_decode(b"\x80A") == "?A"
    with pytest.raises(content.ContentError):
        content.gsm7_encode("ç")  # lower-case c cedilla is not in the default alphabet


@pytest.mark.parametrize(
    ("text", "coding", "sizes"),
    [
        ("a" * 160, 0, [160]),
        ("a" * 161, 0, [6 + 153, 6 + 8]),
        ("a" * 152 + "€" + "b" * 10, 0, [6 + 152, 6 + 12]),  # the escape pair is not cut in two
        ("ж" * 70, 8, [140]),
        ("ж" * 71, 8, [6 + 134, 6 + 8]),
        ("ж" * 66 + "🚒" + "ж" * 5, 8, [6 + 132, 6 + 14]),  # the surrogate pair is not cut in two
    ],
)
def test_split_text_into_udh_parts(text, coding, sizes):
    parts = content.split_text(text, ref=7)
    assert [len(p.short_message) for p in parts] == sizes
    assert {p.data_coding for p in parts} == {coding}
    if len(parts) > 1:
        assert all(p.esm_class == codec.ESM_UDHI for p in parts)
        assert [p.short_message[:6] for p in parts] == [
            bytes((5, 0, 3, 7, len(parts), n)) for n in range(1, len(parts) + 1)
        ]
        joined = "".join(content.decode_text(content.parse_udh(p.short_message)[1], coding) for p in parts)
        assert joined == text
    else:
        assert parts[0].esm_class == 0
        assert content.decode_text(parts[0].short_message, coding) == text


def test_ucs2_on_request_and_part_limit():
    (part,) = content.split_text("ok", ref=1, encoding="ucs2")
    assert (part.data_coding, part.short_message) == (8, b"\x00o\x00k")
    with pytest.raises(content.ContentError):
        content.split_text("ж" * (67 * 255 + 1), ref=1)


def test_udh_with_16_bit_reference_and_broken_udh():
    concat, rest = content.parse_udh(bytes((6, 8, 4, 0x01, 0x2C, 3, 2)) + b"hi")
    assert (concat, rest) == (content.Concat(300, 3, 2), b"hi")
    with pytest.raises(content.ContentError):
        content.parse_udh(bytes((9, 0, 3)))
    with pytest.raises(content.ContentError):
        content.parse_udh(b"")
    with pytest.raises(content.ContentError):
        content.parse_udh(bytes((3, 0, 3, 1)))  # the IE claims 3 octets, 1 is there


@given(st.text(max_size=400))
def test_any_text_splits_and_joins_back(text):
    parts = content.split_text(text, ref=3)
    joined = []
    for p in parts:
        data = content.parse_udh(p.short_message)[1] if p.esm_class & codec.ESM_UDHI else p.short_message
        assert len(p.short_message) <= 140 + (20 if p.data_coding == 0 else 0)
        joined.append(content.decode_text(data, p.data_coding))
    assert "".join(joined) == text


# ---- options and the channel's pure parts --------------------------------------------------------
def test_options_build_and_capabilities():

    from pydantic import ValidationError

    from adapters.registry import validate_options
    from adapters.smpp.channel import build

    ch = build("sms", {"system_id": "callout"}, 459)
    assert (ch.capabilities.max_length, ch.capabilities.max_parts) == (459, 1)
    assert ch.capabilities.confirms_delivery and ch.capabilities.two_way
    assert not build("sms", {"system_id": "callout", "registered_delivery": 2}).capabilities.confirms_delivery
    with pytest.raises(ValidationError):
        build("sms", {"system_id": "callout"}, 255 * 67 + 1)  # more than 255 UCS2 parts
    with pytest.raises(ValidationError):
        build("sms", {"system_id": "x" * 16})
    with pytest.raises(ValidationError):
        build("sms", {"system_id": "callout", "reconnect_min": 5, "reconnect_max": 1})
    assert validate_options("webhook", {"url": "ftp://x"})  # the registry's checker still works


def test_every_codec_error_is_a_protocol_error_named_smpp():
    from adapters.errors import ProtocolError

    for cls in (
        SmppError,
        FramingError,
        PduError,
        UnknownCommandError,
        codec.FieldError,
        content.ContentError,
    ):
        assert issubclass(cls, ProtocolError) and issubclass(cls, ValueError)
    with pytest.raises(ProtocolError) as err:
        PduSplitter().feed(b"\x00\x00\x00\x01")
    assert err.value.codec == "smpp" and isinstance(err.value, FramingError)
    assert err.value.problem.startswith("impossible command_length 1")
