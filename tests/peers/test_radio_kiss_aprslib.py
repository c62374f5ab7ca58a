"""A peer reads what our codec writes: aprslib (rossengeorgiev/aprs-python), an independent APRS
parser, must agree on addressee, text and message number of every message, ack and reject, and
with our position decoder on the position reports the simulator's stations beacon.

The path from our bytes to aprslib does not go through our decoder: the KISS frame is undone and
the AX.25 frame turned into TNC2 text by the simulator's own coder (written from the specs).
"""

from __future__ import annotations

import aprslib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.radio_kiss.aprs import MAX_TEXT, encode_ack, encode_reject
from adapters.radio_kiss.aprs_position import parse_position
from adapters.radio_kiss.framing import Address, UIFrame, encode_kiss
from adapters.radio_kiss.messaging import Messenger
from simulators.kiss_tnc.wire import Deframer, ax25_unpack
from simulators.kiss_tnc.wire import aprs_position as sim_position


def tnc2_via_simulator(kiss: bytes) -> str:
    ((type_byte, payload),) = Deframer().push(kiss)
    assert type_byte == 0x00
    return ax25_unpack(payload).tnc2()


def wire_of(frame: UIFrame) -> bytes:
    return encode_kiss(frame.encode())


def messenger(first: int = 17) -> Messenger:
    return Messenger(
        station=Address.parse("N0GW-10"),
        destination=Address.parse("APZCLO"),
        path=[Address.parse("WIDE1-1"), Address.parse("WIDE2-1")],
        first_msgno=first,
    )


@pytest.mark.parametrize(
    ("addressee", "parts"),
    [
        ("N0CALL-7", ["INC-2026-000042 P2 kitchen fire 1 High St"]),
        ("K1ABC", ["1/3 INC-2026-000007 P1 RTC M25 J10", "2/3 northbound", "3/3 2 cars"]),
        ("EOC-NORTH", ["x" * MAX_TEXT]),
        ("W1AW-15", ["EN ROUTE", "ack"]),  # "ack" alone has no number: still a message
    ],
)
def test_aprslib_reads_our_messages(addressee, parts):
    sub = messenger(first=99_998).submit(addressee, parts, now=0)
    for frame, text, msgno in zip(sub.frames, parts, sub.msgnos, strict=True):
        tnc2 = tnc2_via_simulator(wire_of(frame))
        parsed = aprslib.parse(tnc2)
        assert parsed["format"] == "message"
        assert parsed["from"] == "N0GW-10" and parsed["to"] == "APZCLO"
        assert parsed["path"] == ["WIDE1-1", "WIDE2-1"]
        assert parsed["addresse"] == addressee
        assert parsed["message_text"] == text
        assert parsed["msgNo"] == msgno


@pytest.mark.parametrize(("encode", "response"), [(encode_ack, "ack"), (encode_reject, "rej")])
@pytest.mark.parametrize("msgno", ["1", "17", "99999", "AB", "x9Z"])
def test_aprslib_reads_our_acks_and_rejects(encode, response, msgno):
    frame = UIFrame.command(Address.parse("APZCLO"), Address.parse("N0GW-10"), (), encode("N0CALL-7", msgno))
    parsed = aprslib.parse(tnc2_via_simulator(wire_of(frame)))
    assert (parsed["format"], parsed["addresse"]) == ("message", "N0CALL-7")
    assert (parsed["response"], parsed["msgNo"]) == (response, msgno)


def test_acks_we_send_for_incoming_messages_read_right():
    m = messenger()
    incoming = UIFrame.command(
        Address.parse("APRS"), Address.parse("N0CALL-7"), (), b":N0GW-10  :EN ROUTE{42"
    )
    (ack,) = m.receive(incoming, now=0).frames
    parsed = aprslib.parse(tnc2_via_simulator(wire_of(ack)))
    assert (parsed["addresse"], parsed["response"], parsed["msgNo"]) == ("N0CALL-7", "ack", "42")


# Telemetry definitions (PARM. UNIT. EQNS. BITS.) are messages too, but aprslib reads them
# differently on purpose; callout's dispatch text never starts with them.
TEXTS = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="{|~"),
    max_size=MAX_TEXT,
).filter(lambda t: not t.startswith(("PARM.", "UNIT.", "EQNS.", "BITS.")))


@given(TEXTS, st.integers(min_value=1, max_value=99_999))
def test_aprslib_agrees_on_any_legal_text(text, first):
    sub = messenger(first=first).submit("N0CALL-7", [text], now=0)
    parsed = aprslib.parse(tnc2_via_simulator(wire_of(sub.frames[0])))
    assert parsed["addresse"] == "N0CALL-7"
    assert parsed["msgNo"] == sub.msgnos[0]
    # aprslib strips spaces at both ends of the text; our sanitiser may capitalise an "ackNN".
    assert parsed["message_text"].lower() == text.strip(" ").lower()


# ---- position reports: the simulator writes (from the spec), aprslib and our decoder read -------
@settings(max_examples=200, deadline=None)
@given(
    st.floats(-89.99, 89.99),
    st.floats(-179.99, 179.99),
    st.booleans(),
    st.sampled_from(["/>", "\\k", "/-", "9#"]),
)
def test_aprslib_and_our_decoder_agree_on_positions(lat, lon, compressed, symbol):
    if compressed and symbol[0].isdigit():
        symbol = "/" + symbol[1]  # overlays in compressed form go as a-j: aprslib reports them so
    info = sim_position(lat, lon, symbol=symbol, compressed=compressed, zulu=(9, 23, 45), comment="ENG-2")
    ours = parse_position(info)
    theirs = aprslib.parse("N0CALL-7>APRS:" + info.decode("ascii"))
    assert ours is not None and ours.compressed is compressed
    assert ours.lat == pytest.approx(theirs["latitude"], abs=1e-6)
    assert ours.lon == pytest.approx(theirs["longitude"], abs=1e-6)
    assert ours.symbol == theirs["symbol_table"] + theirs["symbol"]
    assert ours.comment == theirs["comment"] == "ENG-2"
