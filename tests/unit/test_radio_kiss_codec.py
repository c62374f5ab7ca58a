"""The KISS/AX.25/APRS codec (sans-I/O): sample frames, every truncated prefix, garbage, streams.

The first two samples are real captures from an AEA PK-232 in KISS mode (published in the
README of dad98253/testpk232); the others were checked octet by octet against the AX.25 2.0
address encoding and against the simulator's independent encoder.
"""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.radio_kiss.aprs import (
    MAX_TEXT,
    AprsAck,
    AprsError,
    AprsMessage,
    AprsReject,
    encode_ack,
    encode_message,
    encode_reject,
    parse_info,
    sanitize_text,
)
from adapters.radio_kiss.framing import (
    FEND,
    Address,
    AX25Error,
    Command,
    FrameError,
    KissDecoder,
    KissError,
    KissFrame,
    UIFrame,
    UnsupportedFrame,
    decode_kiss,
    encode_kiss,
    escape,
    unescape,
)

# (KISS bytes as the TNC sends them, TNC2 text, the APRS message in it or None)
SAMPLES: list[tuple[str, str, object]] = [
    (
        # PK-232 capture: a third-party packet relayed by a used digipeater; not a message to us.
        "c0 0082a088 ae627060 96946e84 a4a6649c 6ab09aa8 40e2ae92 888a6440 6303f07d 4b374949"
        " 493e4150 4b303034 2c544350 49502c4b 4a374252 532d322a 3a3a4351 20202020 2020203a"
        " 6465204a 61736f6e 20434e38 377b3730 c0",
        "KJ7BRS-2>APDW18,N5XMT-1*,WIDE2-1:}K7III>APK004,TCPIP,KJ7BRS-2*::CQ       :de Jason CN87{70",
        None,
    ),
    (
        # PK-232 capture: a position via two used digipeaters (TNC2 stars only the last).
        "c0 0082a0a6 82a44060 ac8a6ea6 8aac62ac 8a6ea698 86ee86a4 b2a6a898 e103f03d 34383237"
        " 2e36334e 2f313233 32322e36 36577630 2d312f30 30302f41 3d303030 3132315b 3a564537 534556 c0",
        "VE7SEV-1>APSAR,VE7SLC-7,CRYSTL*:=4827.63N/12322.66Wv0-1/000/A=000121[:VE7SEV",
        None,
    ),
    (
        # sip-radio.md §4.1 [V]: the dispatch message both ax253 and aprslib agreed on.
        "c00082a0b48eae62e09c608eae404060ae92888a62406303f03a4e3043414c4c2d37203a494e434944454e54"
        "20343220524553504f4e4420414c5048417b3137c0",
        "N0GW>APZGW1,WIDE1-1::N0CALL-7 :INCIDENT 42 RESPOND ALPHA{17",
        AprsMessage("N0CALL-7", "INCIDENT 42 RESPOND ALPHA", "17"),
    ),
    (
        "c00082a0a4a64040e09c60868298986f03f03a4e30475720202020203a61636b3137c0",
        "N0CALL-7>APRS::N0GW     :ack17",
        AprsAck("N0GW", "17"),
    ),
    (
        "c00082a0b486989ee09c608eae404074ae92888a624062ae92888a64406303f03a4e3043414c4c2d31353a72"
        "656a3939393939c0",
        "N0GW-10>APZCLO,WIDE1-1,WIDE2-1::N0CALL-15:rej99999",
        AprsReject("N0CALL-15", "99999"),
    ),
    (
        "c00082a088a4626ce09662828486407288928e926240e0ae92888a64406303f03a4e3047572d313020203a45"
        "4e20524f5554457b41427d4344c0",
        "K1ABC-9>APDR16,DIGI1*,WIDE2-1::N0GW-10  :EN ROUTE{AB}CD",
        AprsMessage("N0GW-10", "EN ROUTE", "AB", reply_ack="CD"),
    ),
    (
        # FEND and FESC octets in the info field travel escaped (KISS §2).
        "c00082a0b486989ee09c608eae40406103f03e636166dbdcdbdd20737461747573c0",
        "N0GW>APZCLO:>caf\ufffd\ufffd status",
        None,
    ),
]
FRAMES = [bytes.fromhex(k.replace(" ", "")) for k, _, _ in SAMPLES]
IDS = ["pk232-thirdparty", "pk232-position", "message", "ack", "rej", "reply-ack", "escaped"]


def ax25_of(kiss: bytes) -> bytes:
    return decode_kiss(kiss).data


def header_length(ax25: bytes) -> int:
    """Addresses, control and PID: up to the octet whose low bit ends the address field."""
    end = next(i for i in range(6, len(ax25), 7) if ax25[i] & 1)
    return end + 3


# ---- KISS --------------------------------------------------------------------------------------


def test_escaping_vector_from_the_notes():
    assert encode_kiss(b"\x01\xc0\x02\xdb\x03", port=1) == bytes.fromhex("c01001dbdc02dbdd03c0")


def test_escape_order_does_not_double_escape():
    assert escape(b"\xc0") == b"\xdb\xdc"  # not \xdb\xdd\xdc
    assert escape(b"\xdb\xdc") == b"\xdb\xdd\xdc"
    assert unescape(escape(bytes(range(256)))) == bytes(range(256))


@pytest.mark.parametrize(
    ("command", "value", "wire"),
    [
        (Command.TX_DELAY, 30, "c0011ec0"),
        (Command.PERSISTENCE, 63, "c0023fc0"),
        (Command.SLOT_TIME, 10, "c0030ac0"),
        (Command.FULL_DUPLEX, 0, "c00500c0"),
    ],
)
def test_parameter_commands(command, value, wire):
    assert encode_kiss(bytes([value]), command=command) == bytes.fromhex(wire)
    assert decode_kiss(bytes.fromhex(wire)) == KissFrame(0, command, bytes([value]))


def test_port_nibble_and_return_command():
    assert encode_kiss(b"x", port=15)[1] == 0xF0
    assert decode_kiss(bytes.fromhex("c0f078c0")) == KissFrame(15, Command.DATA, b"x")
    assert encode_kiss(b"", command=Command.RETURN) == bytes.fromhex("c0ffc0")
    assert decode_kiss(bytes.fromhex("c0ffc0")).command == Command.RETURN
    with pytest.raises(KissError):
        encode_kiss(b"", port=16)
    with pytest.raises(KissError):
        encode_kiss(b"", command=0x10)


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        ("c0c0", "empty frame"),
        ("c000dbc0", "middle of an escape"),
        ("c000db41c0", "not TFEND or TFESC"),
        ("00dbdd db", "middle of an escape"),
    ],
)
def test_bad_kiss_frames_raise_typed_errors(wire, why):
    with pytest.raises(KissError, match=why):
        decode_kiss(bytes.fromhex(wire.replace(" ", "")))


# ---- the sample table: round trip --------------------------------------------------------------


@pytest.mark.parametrize(("kiss", "sample"), list(zip(FRAMES, SAMPLES, strict=True)), ids=IDS)
def test_sample_decodes_and_encodes_back_to_the_same_octets(kiss, sample):
    _, tnc2, packet = sample
    (item,) = KissDecoder().feed(kiss)
    assert isinstance(item, KissFrame) and (item.port, item.command) == (0, Command.DATA)
    frame = UIFrame.decode(item.data)
    assert frame.tnc2() == tnc2
    assert parse_info(frame.info) == packet
    assert frame.encode() == item.data
    assert encode_kiss(frame.encode()) == kiss


def test_encoders_rebuild_the_message_samples():
    assert encode_message("N0CALL-7", "INCIDENT 42 RESPOND ALPHA", "17") == (
        b":N0CALL-7 :INCIDENT 42 RESPOND ALPHA{17"
    )
    assert encode_ack("n0gw", "17") == b":N0GW     :ack17"
    assert encode_reject("N0CALL-15", "99999") == b":N0CALL-15:rej99999"
    frame = UIFrame.command(
        Address.parse("APZGW1"),
        Address.parse("N0GW"),
        (Address.parse("WIDE1-1"),),
        encode_message("N0CALL-7", "INCIDENT 42 RESPOND ALPHA", "17"),
    )
    assert encode_kiss(frame.encode()) == FRAMES[2]


# ---- every truncated prefix --------------------------------------------------------------------


@pytest.mark.parametrize("kiss", FRAMES, ids=IDS)
def test_every_truncated_ax25_prefix(kiss):
    ax25 = ax25_of(kiss)
    head = header_length(ax25)
    full = UIFrame.decode(ax25)
    for n in range(len(ax25)):
        if n < head:
            with pytest.raises(AX25Error):
                UIFrame.decode(ax25[:n])
        else:  # cut inside the info field: still a frame, with the info cut short
            assert UIFrame.decode(ax25[:n]) == UIFrame(
                full.destination, full.source, full.path, full.info[: n - head]
            )


@pytest.mark.parametrize("kiss", FRAMES, ids=IDS)
def test_every_truncated_kiss_prefix_waits_then_closes_cleanly(kiss):
    full = decode_kiss(kiss)
    for n in range(1, len(kiss)):
        decoder = KissDecoder()
        assert decoder.feed(kiss[:n]) == []  # no closing FEND yet: nothing
        closed = decoder.feed(bytes([FEND]))  # the line closes the frame early
        if n == 1:
            assert closed == []  # FEND FEND is no frame
            continue
        (item,) = closed
        if isinstance(item, KissFrame):
            assert (item.port, item.command) == (full.port, full.command)
            assert full.data.startswith(item.data)
        else:
            assert isinstance(item, KissError) and kiss[n - 1] == 0xDB  # cut inside an escape


@pytest.mark.parametrize(("kiss", "sample"), list(zip(FRAMES, SAMPLES, strict=True)), ids=IDS)
def test_every_truncated_info_prefix_parses_or_raises_aprs_error(kiss, sample):
    info = UIFrame.decode(ax25_of(kiss)).info
    for n in range(len(info)):
        try:
            parse_info(info[:n])
        except AprsError:
            assert info[:1] == b":" and (n < 11 or sample[2] is not None)


# ---- garbage ------------------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_garbage_only_ever_raises_typed_errors(data):
    for decode in (decode_kiss, UIFrame.decode, parse_info):
        with contextlib.suppress(FrameError):
            decode(data)
    try:
        KissDecoder().feed(data)
    except FrameError:
        pytest.fail("the streaming decoder must return errors, not raise them")


@given(st.binary(max_size=200), st.sampled_from(FRAMES))
def test_decoder_resyncs_after_garbage(garbage, kiss):
    decoder = KissDecoder()
    items = decoder.feed(garbage) + decoder.feed(kiss)
    assert items[-1] == decode_kiss(kiss)
    assert all(isinstance(i, KissFrame | KissError) for i in items)


@given(st.binary(min_size=1, max_size=100).filter(lambda b: FEND not in b))
def test_noise_before_the_first_fend_is_discarded_and_counted(noise):
    decoder = KissDecoder()
    assert decoder.feed(noise + FRAMES[3]) == [decode_kiss(FRAMES[3])]
    assert decoder.discarded == len(noise)


def test_oversized_frame_is_an_error_and_the_next_frame_still_decodes():
    decoder = KissDecoder(max_frame=64)
    items = decoder.feed(bytes([FEND]) + b"\x00" + b"A" * 500 + FRAMES[3])
    assert isinstance(items[0], KissError) and "longer than" in items[0].reason
    assert items[1] == decode_kiss(FRAMES[3])


def test_back_to_back_fends_are_not_frames():
    assert KissDecoder().feed(b"\xc0\xc0\xc0" + FRAMES[3] + b"\xc0\xc0") == [decode_kiss(FRAMES[3])]


# ---- streaming ----------------------------------------------------------------------------------

STREAM = b"".join(FRAMES)
EXPECTED = [decode_kiss(k) for k in FRAMES]


def test_stream_fed_byte_by_byte():
    decoder = KissDecoder()
    items = [item for i in range(len(STREAM)) for item in decoder.feed(STREAM[i : i + 1])]
    assert items == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_stream_fed_in_random_chunks(cuts):
    bounds = [0, *sorted(cuts), len(STREAM)]
    decoder = KissDecoder()
    items = [item for a, b in itertools.pairwise(bounds) for item in decoder.feed(STREAM[a:b])]
    assert items == EXPECTED


# ---- AX.25 addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "last", "wire"),
    [
        ("N0CALL-7", True, "9c60868298986f"),
        ("WIDE1-1", False, "ae92888a624062"),
        ("APZCLO", False, "82a0b486989e60"),
        ("K1ABC-15", False, "9662828486407e"),
    ],
)
def test_address_octets(text, last, wire):
    address = Address.parse(text)
    assert address.encode(last=last) == bytes.fromhex(wire)
    assert Address.decode(bytes.fromhex(wire)) == (address, last)
    assert str(address) == text


def test_used_digipeater_keeps_its_h_bit():
    used = Address.parse("digi1*")
    assert (used.call, used.ssid, used.flag) == ("DIGI1", 0, True)
    assert used.encode(last=False)[6] & 0x80


@pytest.mark.parametrize("text", ["", "TOOLONG1", "N0CALL-16", "N0-CALL", "N0CALL-", "N0 CALL", "ÄB"])
def test_bad_addresses(text):
    with pytest.raises(AX25Error):
        Address.parse(text)


def test_address_field_errors():
    good = ax25_of(FRAMES[3])
    with pytest.raises(AX25Error, match="extension bit set inside a callsign"):
        UIFrame.decode(bytes([good[0] | 1]) + good[1:])
    with pytest.raises(AX25Error, match="bad callsign"):
        UIFrame.decode(b"\x82\x40\x82" + good[3:])  # a space inside the callsign
    with pytest.raises(AX25Error, match="after the destination"):
        UIFrame.decode(good[:6] + bytes([good[6] | 1]) + good[7:])
    with pytest.raises(AX25Error, match="not terminated"):
        UIFrame.decode(bytes.fromhex("ae92888a624062") * 11 + b"\x03\xf0")
    with pytest.raises(AX25Error):
        UIFrame(Address("A"), Address("B"), (Address("C"),) * 9)


def test_non_ui_frames_are_unsupported_not_garbled():
    good = ax25_of(FRAMES[3])
    head = header_length(good) - 2
    with pytest.raises(UnsupportedFrame) as sabm:
        UIFrame.decode(good[:head] + b"\x3f")
    assert sabm.value.control == 0x3F
    with pytest.raises(UnsupportedFrame) as netrom:
        UIFrame.decode(good[:head] + b"\x03\xcf" + b"x")
    assert netrom.value.pid == 0xCF
    assert UIFrame.decode(good[:head] + b"\x13\xf0hi").info == b"hi"  # P/F bit set is still UI


# ---- APRS messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("info", "packet"),
    [
        (b":N0GW     :ack17", AprsAck("N0GW", "17")),
        (b":N0GW     :rej17", AprsReject("N0GW", "17")),
        (b":N0GW     :EN ROUTE{5", AprsMessage("N0GW", "EN ROUTE", "5")),
        (b":N0GW     :Hi there{AB}CD", AprsMessage("N0GW", "Hi there", "AB", "CD")),
        (b":N0GW     :Hi{AB}", AprsMessage("N0GW", "Hi", "AB")),
        (b":N0GW     :no number", AprsMessage("N0GW", "no number")),
        (b":N0GW     :ack", AprsMessage("N0GW", "ack")),
        (b":N0GW     :ACK 42{123456", AprsMessage("N0GW", "ACK 42{123456")),
        (b":N0GW     :ACK 42{7\r\n", AprsMessage("N0GW", "ACK 42", "7")),
        (b":BLN1     :Road closed", AprsMessage("BLN1", "Road closed")),
        (b":N0GW     :", AprsMessage("N0GW", "")),
        (b"!4903.50N/07201.75W-Test", None),
        (b">status text", None),
        (b"", None),
    ],
)
def test_parse_info(info, packet):
    assert parse_info(info) == packet


@pytest.mark.parametrize(
    "info", [b":SHORT:x", b":N0GW     x", b":         :blank addressee", b":N0\xffGW    :x"]
)
def test_malformed_messages(info):
    with pytest.raises(AprsError):
        parse_info(info)


@pytest.mark.parametrize(
    ("addressee", "text", "msgno", "why"),
    [
        ("N0GW", "x" * (MAX_TEXT + 1), "1", "longer than 67"),
        ("N0GW", "a{b", "1", "forbids"),
        ("N0GW", "a|b", "1", "forbids"),
        ("N0GW", "café", "1", "forbids"),
        ("N0GW", "ack12", "1", "would read as an ack"),
        ("N0GW", "ok", "123456", "1-5 letters or digits"),
        ("N0GW", "ok", "1 2", "1-5 letters or digits"),
        ("TOOLONGCALL", "ok", "1", "addressee"),
        ("N0:GW", "ok", "1", "addressee"),
    ],
)
def test_encode_message_refuses_what_aprs_cannot_carry(addressee, text, msgno, why):
    with pytest.raises(AprsError, match=why):
        encode_message(addressee, text, msgno)


def test_sanitize_examples():
    assert sanitize_text("Café {x} | ~") == "Cafe (x} ! -"
    assert sanitize_text("ack12") == "Ack12"
    assert sanitize_text("日本") == "??"


@given(st.text(max_size=MAX_TEXT))
def test_sanitized_text_keeps_its_length_and_always_encodes(text):
    clean = sanitize_text(text)
    assert len(clean) == len(text)
    assert parse_info(encode_message("N0CALL-7", clean, "42")) == AprsMessage(
        "N0CALL-7", clean.strip(" "), "42"
    )
