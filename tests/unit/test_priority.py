"""Priority matrix: impact x urgency -> P1..P4."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.states import Priority
from gateway.errors import ValidationFailed
from gateway.policies.priority import priority_for
from gateway.settings import TriageSettings

MATRIX = TriageSettings().matrix
SEVERITY = {p: rank for rank, p in enumerate([Priority.P1, Priority.P2, Priority.P3, Priority.P4])}
in_range = st.integers(min_value=1, max_value=3)


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [
        (1, 1, Priority.P1),
        (1, 2, Priority.P2),
        (2, 1, Priority.P2),
        (2, 2, Priority.P3),
        (3, 3, Priority.P4),
        (1, 3, Priority.P3),
        (3, 1, Priority.P3),
    ],
)
def test_default_matrix_table(impact: int, urgency: int, expected: Priority) -> None:
    assert priority_for(impact, urgency, MATRIX) is expected


@given(impact=in_range, urgency=in_range)
def test_every_pair_in_range_gives_a_priority(impact: int, urgency: int) -> None:
    assert isinstance(priority_for(impact, urgency, MATRIX), Priority)


@given(impact=in_range, urgency=in_range, raise_impact=st.integers(0, 2), raise_urgency=st.integers(0, 2))
def test_more_severe_impact_or_urgency_never_lowers_the_priority(
    impact: int, urgency: int, raise_impact: int, raise_urgency: int
) -> None:
    worse_impact = max(1, impact - raise_impact)
    worse_urgency = max(1, urgency - raise_urgency)
    base = priority_for(impact, urgency, MATRIX)
    assert SEVERITY[priority_for(worse_impact, urgency, MATRIX)] <= SEVERITY[base]
    assert SEVERITY[priority_for(impact, worse_urgency, MATRIX)] <= SEVERITY[base]
    assert SEVERITY[priority_for(worse_impact, worse_urgency, MATRIX)] <= SEVERITY[base]


out_of_range = st.one_of(st.integers(max_value=0), st.integers(min_value=4))


@given(impact=out_of_range, urgency=in_range)
def test_impact_out_of_range_names_the_field_and_the_range(impact: int, urgency: int) -> None:
    with pytest.raises(ValidationFailed) as info:
        priority_for(impact, urgency, MATRIX)
    assert set(info.value.fields) == {"impact"}
    assert "between 1 (high) and 3 (low)" in info.value.fields["impact"]


@given(impact=in_range, urgency=out_of_range)
def test_urgency_out_of_range_names_the_field_and_the_range(impact: int, urgency: int) -> None:
    with pytest.raises(ValidationFailed) as info:
        priority_for(impact, urgency, MATRIX)
    assert set(info.value.fields) == {"urgency"}
    assert "between 1 (high) and 3 (low)" in info.value.fields["urgency"]


def test_both_out_of_range_reports_both() -> None:
    with pytest.raises(ValidationFailed) as info:
        priority_for(0, 9, MATRIX)
    assert set(info.value.fields) == {"impact", "urgency"}


def test_ranges_follow_the_configured_matrix_shape() -> None:
    wide = [
        [Priority.P1, Priority.P2],
        [Priority.P2, Priority.P3],
        [Priority.P3, Priority.P4],
        [Priority.P4, Priority.P4],
    ]
    assert priority_for(4, 2, wide) is Priority.P4
    with pytest.raises(ValidationFailed) as info:
        priority_for(4, 3, wide)
    assert info.value.fields == {"urgency": "must be between 1 (high) and 2 (low), got 3"}


def test_an_empty_matrix_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="matrix"):
        priority_for(1, 1, [])
