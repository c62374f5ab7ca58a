"""SMS TPDUs and alphabets (3GPP TS 23.040, TS 23.038): real PDUs, round trips, every truncated
prefix, garbage."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sms_modem import alphabet, pdu, pdu_fields
from adapters.sms_modem.alphabet import Alphabet, PduError
from adapters.sms_modem.pdu_fields import Concat

UTC = dt.UTC
TEXT = "Dispatch: unit 12 to station 4"  # the protocol notes' sample, 30 GSM characters


# ---- real PDUs ------------------------------------------------------------------------------------
def test_kannel_submit_with_status_report_and_24h_validity():
    # Protocol notes §2.4: Kannel with dlr-mask: first octet 0x31 (SUBMIT, VPF relative, TP-SRR).
    part = pdu.submit_parts("+15551234567", TEXT, validity=pdu_fields.encode_relative_vp(1440)).parts[0]
    assert part.hex().startswith("0031000B915155214365F70000A71E")
    assert part.length == 41  # AT+CMGS=41 counts the TPDU only


def test_smstools_submit_without_status_report():
    sub = pdu.Submit("+15551234567", TEXT, status_report=False, validity=0xFF)
    raw = ("00" + pdu.encode_submit(sub).hex()).upper()
    assert raw.startswith("0011000B915155214365F70000FF1EC4F4") and raw.endswith("01")
    assert len(pdu.encode_submit(sub)) == 41


def test_gammu_submit_carries_the_smsc():
    part = pdu.submit_parts("+15551234567", TEXT, status_report=False, validity=0xA7).parts[0]
    assert part.hex("+15550000000").startswith("07915155000000F011000B915155214365F7")
    assert part.length == 41  # the SMSC part is not counted


def test_classic_deliver_pdu():
    # The well-known "hellohello" SMS-DELIVER: SMSC +27381000015, OA 27838890001 (TOA C8).
    data = bytes.fromhex("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
    smsc, tpdu = pdu_fields.split_smsc(data, 28)
    assert smsc == "+27381000015"
    sms = pdu.decode_any(tpdu)
    assert isinstance(sms, pdu.Deliver)
    assert (sms.sender, sms.text, sms.alphabet) == ("27838890001", "hellohello", Alphabet.GSM7)
    assert sms.timestamp == dt.datetime(2099, 3, 29, 15, 16, 59, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def test_classic_submit_pdu():
    sub = pdu.decode_submit(bytes.fromhex("11000B916407281553F80000AA0AE8329BFD4697D9EC37"))
    assert (sub.destination, sub.text, sub.validity, sub.status_report) == (
        "+46708251358",
        "hellohello",
        0xAA,
        False,
    )


def test_status_report_as_injected_into_kannel():
    # Protocol notes: `+CDS: 25` / `07915155000000F006010B915155214365F7<scts><dt>00`.
    scts, dt_ = "62110221430000", "62110221431500"
    data = bytes.fromhex(f"07915155000000F006010B915155214365F7{scts}{dt_}00")
    smsc, tpdu = pdu_fields.split_smsc(data, 25)
    report = pdu.decode_any(tpdu)
    assert smsc == "+15550000000" and isinstance(report, pdu.StatusReport)
    assert (report.mr, report.recipient, report.status) == (1, "+15551234567", 0)
    assert report.delivered and report.final
    assert report.sc_timestamp == dt.datetime(2026, 11, 20, 12, 34, 0, tzinfo=UTC)
    assert report.discharge_time == dt.datetime(2026, 11, 20, 12, 34, 51, tzinfo=UTC)


def test_split_smsc_without_the_smsc_part():
    tpdu = bytes.fromhex("06010B915155214365F7" + "62110221430000" * 2 + "00")
    assert pdu_fields.split_smsc(tpdu, len(tpdu)) == ("", tpdu)
    with pytest.raises(PduError):
        pdu_fields.split_smsc(b"\x07\x91" + tpdu, len(tpdu))  # SMSC length disagrees with <length>


# ---- alphabet ------------------------------------------------------------------------------------
def test_default_alphabet_has_128_code_points_and_round_trips():
    assert len(alphabet.GSM7_BASIC) == 128
    text = alphabet.GSM7_BASIC.replace("\x1b", "")
    assert alphabet.gsm7_decode(alphabet.gsm7_encode(text) or []) == text


EXTENSION = {
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}


@pytest.mark.parametrize(("ch", "code"), EXTENSION.items())
def test_extension_characters_take_two_septets(ch, code):
    assert alphabet.gsm7_encode(ch) == [0x1B, code]


def test_unknown_extension_shows_the_default_character_and_lone_escape_a_space():
    assert alphabet.gsm7_decode([0x1B, 0x41]) == "A"
    assert alphabet.gsm7_decode([0x41, 0x1B]) == "A "


def test_non_gsm_text_is_not_gsm7():
    assert alphabet.gsm7_encode("Привет") is None
    assert alphabet.gsm7_encode("`") is None  # the backtick is not in the default alphabet


def test_septet_packing_known_vector():
    assert (
        alphabet.pack_septets(alphabet.gsm7_encode("hellohello") or []).hex().upper() == "E8329BFD4697D9EC37"
    )
    assert (
        alphabet.gsm7_decode(alphabet.unpack_septets(bytes.fromhex("E8329BFD4697D9EC37"), 10)) == "hellohello"
    )


@given(st.lists(st.integers(0, 127), max_size=200), st.integers(0, 6))
def test_septet_packing_round_trip(septets, fill):
    assert alphabet.unpack_septets(alphabet.pack_septets(septets, fill), len(septets), fill) == septets


# ---- addresses, time stamps, validity -----------------------------------------------------------
@pytest.mark.parametrize(
    "number", ["+15551234567", "0123456789", "112", "+4477009000012", "*100#", "Callout"]
)
def test_address_round_trip(number):
    raw = pdu_fields.encode_address(number)
    assert pdu_fields.decode_address(raw, 0) == (number, len(raw))


@pytest.mark.parametrize("bad", ["", "a" * 12, "€" * 6, "1" * 21, "+" + "1" * 21])
def test_bad_addresses(bad):
    with pytest.raises(PduError):
        pdu_fields.encode_address(bad)


@pytest.mark.parametrize("bad", ["+", "+1-555", "Callout", "07700 900001"])
def test_a_destination_must_be_a_number(bad):
    with pytest.raises(PduError):
        pdu_fields.encode_address(bad, allow_name=False)
    with pytest.raises(PduError):
        pdu.submit_parts(bad, "hello")


@pytest.mark.parametrize("minutes", [-90, 0, 330, 345, 720])
def test_time_stamp_round_trip_with_zones(minutes):
    when = dt.datetime(2026, 2, 28, 23, 59, 58, tzinfo=dt.timezone(dt.timedelta(minutes=minutes)))
    assert pdu_fields.decode_scts(pdu_fields.encode_scts(when), 0) == when


@pytest.mark.parametrize(
    ("minutes", "vp"),
    [(5, 0), (60, 11), (720, 143), (750, 144), (1440, 167), (2 * 1440, 168), (63 * 1440, 201)],
)
def test_relative_validity_period(minutes, vp):
    assert pdu_fields.encode_relative_vp(minutes) == vp


@pytest.mark.parametrize(
    ("st", "final", "delivered"),
    [(0x00, True, True), (0x02, True, True), (0x21, False, False), (0x41, True, False), (0x62, True, False)],
)
def test_status_meanings(st, final, delivered):
    when = dt.datetime(2026, 1, 1, tzinfo=UTC)
    report = pdu.StatusReport(1, "+1", when, when, st)
    assert (report.final, report.delivered) == (final, delivered)
    assert report.meaning


# ---- splitting and concatenation ----------------------------------------------------------------
def _decoded(plan):
    return [pdu.decode_submit(p.tpdu) for p in plan.parts]


def test_160_gsm_characters_fit_one_part_161_need_two_of_153():
    assert len(pdu.submit_parts("+1555", "a" * 160).parts) == 1
    plan = pdu.submit_parts("+1555", "a" * 161, ref=7)
    subs = _decoded(plan)
    assert [len(s.text) for s in subs] == [153, 8]
    assert [s.concat for s in subs] == [Concat(7, 2, 1), Concat(7, 2, 2)]
    assert plan.parts[0].tpdu[0] & 0x40  # TP-UDHI
    assert plan.parts[0].tpdu.hex().upper().find("0500030702") > 0  # UDH: IEI 00, ref 7, 2 parts
    # TP-UDL counts septets: 7 for the UDH and its fill bit, 153 of text; TP-UD is full (140 octets).
    head = 9  # first octet, TP-MR, TP-DA (4 octets), TP-PID, TP-DCS, TP-UDL
    assert plan.parts[0].tpdu[head - 1] == 160 and plan.parts[0].length - head == 140


def test_an_escape_pair_is_never_split_across_parts():
    text = "a" * 152 + "€" + "b" * 10
    subs = _decoded(pdu.submit_parts("+1555", text))
    assert subs[0].text == "a" * 152 and subs[1].text.startswith("€")
    assert "".join(s.text for s in subs) == text


def test_ucs2_70_per_message_67_per_part_and_surrogates_kept_together():
    assert len(pdu.submit_parts("+1555", "ж" * 70).parts) == 1
    text = "ж" * 66 + "🚒" + "ж" * 5
    plan = pdu.submit_parts("+1555", text)
    subs = _decoded(plan)
    assert plan.alphabet is Alphabet.UCS2 and all(s.alphabet is Alphabet.UCS2 for s in subs)
    assert subs[0].text == "ж" * 66 and subs[1].text.startswith("🚒")
    assert "".join(s.text for s in subs) == text


def test_too_long_is_cut_with_an_ellipsis():
    plan = pdu.submit_parts("+1555", "x" * 1000, max_parts=2)
    subs = _decoded(plan)
    assert plan.truncated and len(subs) == 2
    assert subs[1].text.endswith("...") and len(subs[1].text) == 153


def test_one_part_only_cuts_at_160():
    plan = pdu.submit_parts("+1555", "x" * 200, max_parts=1)
    (sub,) = _decoded(plan)
    assert plan.truncated and len(sub.text) == 160 and sub.concat is None


GSM_CHARS = st.sampled_from(alphabet.GSM7_BASIC.replace("\x1b", "") + "^{}\\[~]|€")


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(GSM_CHARS, max_size=700), st.text(max_size=300)), st.integers(0, 255))
def test_split_round_trip(text, ref):
    plan = pdu.submit_parts("+15551234567", text, ref=ref, max_parts=255)
    subs = _decoded(plan)
    assert not plan.truncated
    joined = "".join(s.text for s in subs)
    expected = text.encode("utf-16-be", "replace").decode("utf-16-be", "replace")
    assert joined == (text if plan.alphabet is Alphabet.GSM7 else expected)
    assert all(p.length <= 140 + 24 for p in plan.parts)


# ---- round trips and truncated prefixes ---------------------------------------------------------
WHEN = dt.datetime(2026, 11, 22, 8, 30, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
SAMPLES: list[bytes] = [
    pdu.encode_submit(pdu.Submit("+15551234567", TEXT, validity=0xA7)),
    pdu.encode_submit(pdu.Submit("0771234", "€ [x]", concat=Concat(3, 2, 2))),
    pdu.encode_submit(pdu.Submit("+4477", "Привет", Alphabet.UCS2, mr=9, status_report=False)),
    pdu.encode_deliver(pdu.Deliver("+15551234567", "ACK 1234", WHEN)),
    pdu.encode_deliver(
        pdu.Deliver("Callout", "En route 🚒", WHEN, Alphabet.UCS2, Concat(300, 3, 1, wide=True))
    ),
    pdu.encode_status_report(pdu.StatusReport(255, "+15551234567", WHEN, WHEN, 0x46)),
    bytes.fromhex("040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"),
    bytes.fromhex("11000B916407281553F80000AA0AE8329BFD4697D9EC37"),
]


def _decode(raw: bytes) -> object:
    return pdu.decode_submit(raw) if raw[:1] and raw[0] & 3 == 1 else pdu.decode_any(raw)


def test_round_trips():
    assert pdu.decode_submit(SAMPLES[1]).concat == Concat(3, 2, 2)
    assert pdu.decode_submit(SAMPLES[1]).text == "€ [x]"
    deliver = pdu.decode_deliver(SAMPLES[4])
    assert (deliver.sender, deliver.text, deliver.concat) == (
        "Callout",
        "En route 🚒",
        Concat(300, 3, 1, True),
    )
    assert deliver.timestamp == WHEN
    assert pdu.encode_deliver(deliver) == SAMPLES[4]
    report = pdu.decode_status_report(SAMPLES[5])
    assert pdu.encode_status_report(report) == SAMPLES[5]
    for raw in SAMPLES[:3]:
        assert pdu.encode_submit(pdu.decode_submit(raw)) == raw


@pytest.mark.parametrize("raw", SAMPLES, ids=range(len(SAMPLES)))
def test_every_truncated_prefix_is_a_pdu_error(raw):
    _decode(raw)
    for cut in range(len(raw)):
        with pytest.raises(PduError):
            _decode(raw[:cut])


def test_reserved_and_compressed_coding_is_refused():
    for dcs in (0x0C, 0x20, 0x80):
        with pytest.raises(PduError):
            alphabet.alphabet_for(dcs)
    assert alphabet.alphabet_for(0xF4) is Alphabet.DATA8 and alphabet.alphabet_for(0xF0) is Alphabet.GSM7
    assert alphabet.alphabet_for(0x18) is Alphabet.UCS2  # class 0 flash, UCS2


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=180), st.integers(0, 200))
def test_garbage_only_raises_pdu_errors(data, length):
    for fn in (pdu.decode_any, pdu.decode_submit, pdu.decode_deliver, pdu.decode_status_report):
        with contextlib.suppress(PduError):
            fn(data)
    with contextlib.suppress(PduError):
        pdu_fields.split_smsc(data, length)


# ---- the simulator's independent implementation agrees -----------------------------------------
@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(GSM_CHARS, max_size=500), st.text(max_size=200)), st.integers(0, 255))
def test_the_simulator_reads_what_we_write_and_we_read_what_it_writes(text, ref):
    from simulators.gsm_modem import sms as sim

    expected = text.encode("utf-16-be", "replace").decode("utf-16-be", "replace")
    plan = pdu.submit_parts("+15551234567", text, ref=ref, max_parts=255)
    theirs = [sim.read_submit(p.tpdu) for p in plan.parts]
    assert {s.destination for s in theirs} == {"+15551234567"}
    assert "".join(s.text for s in theirs) in (text, expected)
    assert all(s.wants_report for s in theirs)
    if len(theirs) > 1:
        assert [s.concat for s in theirs] == [(ref, len(theirs), k + 1) for k in range(len(theirs))]
    ours = [pdu.decode_deliver(t) for t in sim.deliver_pdus("+447700900001", text, WHEN, ref)]
    assert {d.sender for d in ours} == {"+447700900001"} and {d.timestamp for d in ours} == {WHEN}
    assert "".join(d.text for d in ours) in (text, expected)
