"""The one reply grammar for every text channel, and DTMF digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.replies import DTMF_DIGITS, KEYWORDS, Reply, ReplyKind, parse_reply, reply_for_dtmf

K = ReplyKind

ACCEPTED: list[tuple[str, Reply]] = [
    ("ACK", Reply(K.ACK)),
    ("ack", Reply(K.ACK)),
    ("Acknowledge", Reply(K.ACK)),
    ("acknowledged.", Reply(K.ACK)),
    ("OK", Reply(K.ACK)),
    ("ok!", Reply(K.ACK)),
    ("Yes", Reply(K.ACK)),
    ("y", Reply(K.ACK)),
    ("1", Reply(K.ACK)),
    ("  1  ", Reply(K.ACK)),
    ("DECLINE", Reply(K.DECLINE)),
    ("reject", Reply(K.DECLINE)),
    ("No", Reply(K.DECLINE)),
    ("n", Reply(K.DECLINE)),
    ("unable!!", Reply(K.DECLINE)),
    ("2", Reply(K.DECLINE)),
    ("EN ROUTE", Reply(K.EN_ROUTE)),
    ("en   route", Reply(K.EN_ROUTE)),
    ("enroute", Reply(K.EN_ROUTE)),
    ("En-Route", Reply(K.EN_ROUTE)),
    ("responding", Reply(K.EN_ROUTE)),
    ("3", Reply(K.EN_ROUTE)),
    ("ON SCENE", Reply(K.ON_SCENE)),
    ("onscene", Reply(K.ON_SCENE)),
    ("on-scene.", Reply(K.ON_SCENE)),
    ("arrived", Reply(K.ON_SCENE)),
    ("At Scene", Reply(K.ON_SCENE)),
    ("4", Reply(K.ON_SCENE)),
    ("CLEAR", Reply(K.CLEAR)),
    ("cleared", Reply(K.CLEAR)),
    ("Available", Reply(K.CLEAR)),
    ("5", Reply(K.CLEAR)),
    ("ACK 1234", Reply(K.ACK, short_ref=1234)),
    ("ack  0042", Reply(K.ACK, short_ref=42)),
    ("1 77", Reply(K.ACK, short_ref=77)),
    ("ACK INC-2026-000042", Reply(K.ACK, reference="INC-2026-000042")),
    ("en route inc-2026-42", Reply(K.EN_ROUTE, reference="INC-2026-000042")),
    ("on scene INC-2025-7!", Reply(K.ON_SCENE, reference="INC-2025-000007")),
    ("\tdecline   Inc-2026-123456 \r\n", Reply(K.DECLINE, reference="INC-2026-123456")),
    ("3 INC-2026-9", Reply(K.EN_ROUTE, reference="INC-2026-000009")),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted_forms(text: str, expected: Reply) -> None:
    assert parse_reply(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "1234",
        "0",
        "6",
        "9",
        "hello",
        "ACK please",
        "ACK 1234 thanks",
        "ACK INC-26-42",
        "ACK INC-2026-1234567",
        "ACK INC-2026-",
        "ACKK",
        "ACK1234",
        "EN",
        "ROUTE",
        "EN ROUTE ROUTE",
        "YES NO",
        "ACK\x00",
        "\x00ACK",
        "ACK 1234567890",
        "?ACK",
        "ack, 1234",
        "ye\u017f",  # long s upper-cases to S: still not a reply
        "ÀCK",
        "ACK " + "1" * 5000,
        "A" * 100_000,
    ],
)
def test_rejected_forms(text: str) -> None:
    assert parse_reply(text) is None


def test_very_long_padding_is_not_a_reply() -> None:
    assert parse_reply(" " * 100_000 + "ACK" + "\n" * 100_000) == Reply(K.ACK)
    assert parse_reply("ACK" + " " * 500 + "42") == Reply(K.ACK, short_ref=42)
    assert parse_reply("ACK" + " " * 100_000 + "42") is None


def test_every_keyword_in_the_table_parses_to_its_kind() -> None:
    for kind, words in KEYWORDS.items():
        for word in words:
            assert parse_reply(word) == Reply(kind), word


def _variant(draw: st.DrawFn, word: str) -> str:
    cased = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in word)
    gaps = st.text(alphabet=" \t", min_size=1, max_size=4)
    cased = " ".join(cased.split(" "))
    parts = cased.split(" ")
    spaced = parts[0] + "".join(draw(gaps) + p for p in parts[1:])
    pad = st.text(alphabet=" \t\r\n", max_size=4)
    punct = st.text(alphabet=".!?", max_size=3)
    return draw(pad) + spaced + draw(punct) + draw(pad)


ALL_WORDS = [(kind, word) for kind, words in KEYWORDS.items() for word in words]


@st.composite
def keyword_variants(draw: st.DrawFn) -> tuple[ReplyKind, str]:
    kind, word = draw(st.sampled_from(ALL_WORDS))
    return kind, _variant(draw, word)


@given(keyword_variants())
def test_case_whitespace_and_punctuation_variants_parse_to_the_same_kind(case: tuple[ReplyKind, str]) -> None:
    kind, text = case
    assert parse_reply(text) == Reply(kind)


@given(
    case=st.sampled_from(ALL_WORDS),
    year=st.integers(min_value=1000, max_value=9999),
    number=st.integers(min_value=0, max_value=999_999),
    zeros=st.integers(min_value=0, max_value=5),
    lower=st.booleans(),
)
def test_references_are_normalised(
    case: tuple[ReplyKind, str], year: int, number: int, zeros: int, lower: bool
) -> None:
    kind, word = case
    digits = str(number)
    digits = ("0" * zeros + digits)[-max(len(digits), 6) :] if zeros else digits
    ref = f"INC-{year}-{digits}"
    text = f"{word} {ref.lower() if lower else ref}"
    assert parse_reply(text) == Reply(kind, reference=f"INC-{year}-{number:06d}")


@given(case=st.sampled_from(ALL_WORDS), serial=st.integers(min_value=0, max_value=999_999_999))
def test_bare_numbers_after_a_keyword_are_short_refs(case: tuple[ReplyKind, str], serial: int) -> None:
    kind, word = case
    assert parse_reply(f"{word} {serial}") == Reply(kind, short_ref=serial)


@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    result = parse_reply(text)
    assert result is None or isinstance(result, Reply)
    if result is not None:
        assert result.reference is None or result.reference.startswith("INC-")


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
def test_arbitrary_ascii_either_parses_or_is_none(text: str) -> None:
    result = parse_reply(text)
    if result is not None:
        assert result.kind in KEYWORDS


@pytest.mark.parametrize(
    ("digit", "kind"),
    [("1", K.ACK), ("2", K.DECLINE), ("3", K.EN_ROUTE), ("4", K.ON_SCENE), ("5", K.CLEAR)],
)
def test_dtmf_digits(digit: str, kind: ReplyKind) -> None:
    assert DTMF_DIGITS[digit] is kind
    assert reply_for_dtmf(digit) == Reply(kind)
    # A digit typed as text means the same as the key pressed.
    assert parse_reply(digit) == reply_for_dtmf(digit)


@pytest.mark.parametrize("digit", ["0", "6", "9", "*", "#", "", "12", "A"])
def test_other_dtmf_keys_are_not_replies(digit: str) -> None:
    assert reply_for_dtmf(digit) is None


def test_dtmf_covers_exactly_the_five_kinds() -> None:
    assert sorted(DTMF_DIGITS) == ["1", "2", "3", "4", "5"]
    assert set(DTMF_DIGITS.values()) == set(ReplyKind)
