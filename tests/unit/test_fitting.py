"""Fitting a message to a channel's length limit: one part, split parts, or truncation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.policies.fitting import FitResult, fit_message

TEXT = (
    "Structure fire at 12 Main Street, persons reported trapped, second alarm requested, "
    "use hydrant on corner of Elm"
)
PREFIX = re.compile(r"^(\d+)/(\d+) ")


def _bodies(result: FitResult) -> list[str]:
    """Part texts without their "k/n " prefixes, checking the prefixes on the way."""
    total = len(result.parts)
    out = []
    for k, part in enumerate(result.parts, start=1):
        match = PREFIX.match(part)
        assert match is not None, part
        assert (int(match[1]), int(match[2])) == (k, total)
        out.append(part[match.end() :])
    return out


def test_short_text_is_one_part() -> None:
    assert fit_message("Fire at 12 Main St", max_length=160) == FitResult(
        parts=("Fire at 12 Main St",), truncated=False, split=False
    )


def test_whitespace_runs_are_collapsed_and_the_text_stripped() -> None:
    result = fit_message("  Fire \t at\n\n12   Main St  ", max_length=160)
    assert result.parts == ("Fire at 12 Main St",)


def test_collapsing_can_make_a_text_fit() -> None:
    result = fit_message("a" * 5 + " " * 20 + "b" * 5, max_length=11)
    assert result == FitResult(parts=("aaaaa bbbbb",), truncated=False, split=False)


def test_text_of_exactly_max_length_is_not_cut() -> None:
    text = "x" * 40
    assert fit_message(text, max_length=40).parts == (text,)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_gives_one_empty_part(text: str) -> None:
    assert fit_message(text, max_length=20, max_parts=3) == FitResult(
        parts=("",), truncated=False, split=False
    )


def test_single_part_truncation_ends_with_ascii_ellipsis() -> None:
    result = fit_message(TEXT, max_length=40)
    assert result.truncated
    assert not result.split
    (part,) = result.parts
    assert len(part) <= 40
    assert part.endswith("...")
    assert part.isascii()
    assert TEXT.startswith(part.removesuffix("..."))


def test_single_part_truncation_prefers_a_word_boundary() -> None:
    (part,) = fit_message(TEXT, max_length=40).parts
    assert part == "Structure fire at 12 Main Street,..."


def test_truncating_one_long_word_cuts_it() -> None:
    assert fit_message("x" * 50, max_length=10).parts == ("xxxxxxx...",)


def test_split_on_word_boundaries_with_numbered_prefixes() -> None:
    result = fit_message(TEXT, max_length=40, max_parts=5)
    assert result.split
    assert not result.truncated
    assert all(len(p) <= 40 for p in result.parts)
    assert result.parts[0] == "1/4 Structure fire at 12 Main Street,"
    assert len(result.parts) == 4
    assert " ".join(_bodies(result)) == TEXT


def test_unnumbered_split_uses_the_whole_length() -> None:
    result = fit_message(TEXT, max_length=40, max_parts=5, numbered=False)
    assert result.split
    assert not result.truncated
    assert all(len(p) <= 40 for p in result.parts)
    assert not any(PREFIX.match(p) for p in result.parts)
    assert " ".join(result.parts) == TEXT
    # Without prefixes the same text needs one part fewer than numbered (4, above).
    assert len(result.parts) == 3


def test_words_longer_than_a_part_are_cut_hard() -> None:
    text = "call " + "x" * 30 + " now"
    result = fit_message(text, max_length=12, max_parts=10)
    assert not result.truncated
    assert all(len(p) <= 12 for p in result.parts)
    assert "".join(_bodies(result)).replace(" ", "") == text.replace(" ", "")
    assert _bodies(result)[0] == "call"


def test_not_enough_parts_keeps_max_parts_and_ends_with_ellipsis() -> None:
    result = fit_message(TEXT, max_length=40, max_parts=2)
    assert result.truncated
    assert result.split
    assert len(result.parts) == 2
    assert all(len(p) <= 40 for p in result.parts)
    assert result.parts[-1].endswith("...")
    assert result.parts[-1].startswith("2/2 ")


def test_two_digit_part_counts_still_fit() -> None:
    text = " ".join(f"word{i:02d}" for i in range(60))
    result = fit_message(text, max_length=16, max_parts=70)
    assert not result.truncated
    assert len(result.parts) == 60
    assert result.parts[-1].startswith(f"{len(result.parts)}/{len(result.parts)} ")
    assert all(len(p) <= 16 for p in result.parts)
    assert " ".join(_bodies(result)) == text


def test_tiny_parts_with_many_allowed_parts_still_fit() -> None:
    result = fit_message(TEXT, max_length=8, max_parts=500)
    assert all(len(p) <= 8 for p in result.parts)
    assert result.truncated
    assert result.parts[-1].endswith("...")


@pytest.mark.parametrize("max_length", [-1, 0, 7])
def test_max_length_below_eight_is_refused(max_length: int) -> None:
    with pytest.raises(ValueError, match="max_length"):
        fit_message("hello", max_length=max_length)


def test_max_parts_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_parts"):
        fit_message("hello", max_length=20, max_parts=0)


@given(
    text=st.text(),
    max_length=st.integers(min_value=8, max_value=200),
    max_parts=st.integers(min_value=1, max_value=15),
    numbered=st.booleans(),
)
def test_every_part_fits_and_no_text_is_lost_unless_marked(
    text: str, max_length: int, max_parts: int, numbered: bool
) -> None:
    result = fit_message(text, max_length=max_length, max_parts=max_parts, numbered=numbered)
    normal = " ".join(text.split())
    assert 1 <= len(result.parts) <= max_parts
    assert all(len(p) <= max_length for p in result.parts)
    assert result.split == (len(result.parts) > 1)
    bodies = _bodies(result) if numbered and result.split else list(result.parts)
    if result.split:
        assert all(b and b == b.strip() for b in bodies)
    squeezed = normal.replace(" ", "")
    if result.truncated:
        assert bodies[-1].endswith("...")
        kept = "".join(bodies).removesuffix("...").replace(" ", "")
        assert squeezed.startswith(kept)
        assert len(kept) < len(squeezed)
    else:
        assert "".join(bodies).replace(" ", "") == squeezed
