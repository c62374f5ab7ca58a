"""The voice channel's sans-I/O parts: the spoken script, the worker protocol, the classification."""

from __future__ import annotations

import pytest

from adapters.voice.codec import LineDecoder, WorkerProtocolError, classify, encode, script, spell

SAMPLES = [
    {"ev": "ready", "local": "127.0.0.1:40000", "pid": 12},
    {"ev": "answered", "ref": "voice-1", "call_id": "abc@host", "at": 1767225600.5},
    {"ev": "digit", "ref": "voice-1", "digit": "1", "method": "rfc4733", "call_id": "abc@host"},
    {"ev": "ended", "ref": "voice-1", "status": 486, "reason": "Busy Here", "answered": False, "digits": ""},
    {
        "op": "call",
        "ref": "voice-2",
        "uri": "sip:101@pbx.example",
        "audio": "a.wav",
        "confirm": {"1": "c.wav"},
    },
]


def test_the_reference_is_read_digit_by_digit_and_the_message_repeated_before_the_prompt():
    words = script("Fire at 12 High Street", "INC-2026-000042", repeat=2, prompt="Press 1.", intro="Hello.")
    assert spell("INC-2026-42") == "I N C , 2 0 2 6 , 4 2"
    assert words.count("Fire at 12 High Street") == 2
    assert words.startswith("Hello. Fire") and words.endswith("Press 1.")
    assert "Incident I N C , 2 0 2 6 , 0 0 0 0 4 2. Fire" in words


def test_a_reference_already_in_the_text_is_spelled_in_place():
    words = script("INC-2026-000042 fire", "INC-2026-000042", repeat=1, prompt="")
    assert "INC-2026" not in words and words.count("0 0 0 0 4 2") == 1


@pytest.mark.parametrize("message", SAMPLES)
def test_protocol_messages_round_trip_whole_and_in_every_split(message):
    line = encode(message)
    assert LineDecoder().feed(line) == [message]
    for cut in range(len(line)):
        d = LineDecoder()
        assert d.feed(line[:cut]) == []
        assert d.feed(line[cut:]) == [message]


@pytest.mark.parametrize(
    "garbage", [b"\xff\xfe\n", b"not json\n", b"[1, 2]\n", b'{"no": "kind"}\n', b'{"ev": 3}\n']
)
def test_garbage_is_a_protocol_error_and_the_next_line_still_decodes(garbage):
    d = LineDecoder()
    with pytest.raises(WorkerProtocolError) as err:
        d.feed(garbage)
    assert err.value.codec == "voice-worker"
    assert d.feed(encode(SAMPLES[0])) == [SAMPLES[0]]


def test_an_endless_line_is_refused_without_growing_forever():
    d = LineDecoder()
    with pytest.raises(WorkerProtocolError):
        d.feed(b"x" * 70000)
    assert d.pending == 0


@pytest.mark.parametrize(
    ("status", "answered", "reached", "temporary"),
    [
        (200, True, True, False),
        (0, True, True, False),  # answered, then the worker lost it: still reached
        (486, False, False, True),
        (600, False, False, True),
        (487, False, False, True),  # our CANCEL at ring_timeout
        (480, False, False, True),
        (503, False, False, True),
        (404, False, False, False),
        (484, False, False, False),
        (403, False, False, False),
        (603, False, False, False),
    ],
)
def test_final_statuses_are_classified_as_the_issue_says(status, answered, reached, temporary):
    v = classify(status, answered=answered, ring_timeout=20)
    assert (v.reached, v.temporary) == (reached, temporary)
    if status == 487:
        assert v.reason == "no answer within 20s"


def test_the_phone_simulators_g711_decoder_matches_the_reference_values():
    # ITU-T G.711 µ-law: 0xFF and 0x7F are the two zeros, 0x00 and 0x80 the extremes (±32124).
    from simulators.sip_message import ulaw_to_linear

    assert ulaw_to_linear(0xFF) == 0 and ulaw_to_linear(0x7F) == 0
    assert ulaw_to_linear(0x00) == -32124 and ulaw_to_linear(0x80) == 32124
    assert ulaw_to_linear(0xF0) == 120 and ulaw_to_linear(0x70) == -120
