"""The possible-duplicate hint (gateway/triage.py possible_duplicates): same category, same place,
within the window; closest in time first; never the incident itself."""

from __future__ import annotations

from gateway.domain.models import Incident
from gateway.domain.states import IncidentState
from gateway.triage import possible_duplicates


def inc(n: int, location: str | None, category: str | None = "fire", at: float = 0.0) -> Incident:
    return Incident(
        id=n,
        reference=f"INC-2026-{n:06d}",
        source="call",
        state=IncidentState.NEW,
        created_at=at,
        updated_at=at,
        location=location,
        category=category,
    )


def test_same_category_and_place_within_the_window() -> None:
    new = inc(9, "4 Mill Lane", at=1000.0)
    others = [
        new,
        inc(1, "Mill Lane 4, yard", at=100.0),  # contains all of the new one's words
        inc(2, "4 mill lane", category="medical", at=900.0),  # another category
        inc(3, "4 Mill Lane", at=-2000.0),  # outside the window
        inc(4, "12 High Street", at=990.0),  # another place
        inc(5, "4 Mill Lane", category=" FIRE ", at=1300.0),
        inc(6, None, at=1000.0),
    ]
    found = possible_duplicates(new, others, window=1800.0)
    assert [d.reference for d in found] == ["INC-2026-000005", "INC-2026-000001"]
    assert found[0].reason == "same category FIRE, at 4 Mill Lane, 5 min later"
    assert "15 min earlier" in found[1].reason


def test_nothing_to_compare_without_category_or_location() -> None:
    assert possible_duplicates(inc(9, None), [inc(1, "4 Mill Lane")], window=1800.0) == []
    assert possible_duplicates(inc(9, "4 Mill Lane", category=None), [inc(1, "4 Mill Lane")], 1800.0) == []
