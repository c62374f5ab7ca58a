"""Hazard matching (gateway/policies/hazards.py): a place matches as whole words in order,
ignoring case and punctuation; the warning leads the dispatch text so truncation keeps it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.domain.models import Incident
from gateway.domain.states import IncidentState, Priority
from gateway.policies.fitting import fit_message
from gateway.policies.hazards import match_hazards, warning_text
from gateway.services.messages import dispatch_text
from gateway.settings_sections import Hazard

ASBESTOS = Hazard(id="HZ-1", kind="asbestos", places=["Mill Lane"], note="roof sheets, 1960s")
DOG = Hazard(id="HZ-2", kind="dangerous dog", places=["4 Mill Lane", "Oak Farm"])
VOLTS = Hazard(id="HZ-3", kind="high voltage", places=["Substation B"])
REGISTER = [ASBESTOS, DOG, VOLTS]


@pytest.mark.parametrize(
    ("location", "ids"),
    [
        ("4 Mill Lane, flat 2", ["HZ-1", "HZ-2"]),
        ("4, MILL-LANE", ["HZ-1", "HZ-2"]),
        ("14 Mill Lane", ["HZ-1"]),  # "4" is not a word of "14"
        ("Millbrook Lane", []),
        ("Lane Mill", []),  # words in order
        ("track behind oak farm", ["HZ-2"]),
        ("substation b", ["HZ-3"]),
        ("", []),
        (None, []),
    ],
)
def test_places_match_as_whole_words_in_order(location: str | None, ids: list[str]) -> None:
    assert [h.id for h in match_hazards(location, REGISTER)] == ids


def test_the_warning_names_each_kind_once() -> None:
    twice = Hazard(id="HZ-9", kind="asbestos", places=["Mill"])
    assert warning_text([ASBESTOS, DOG, twice]) == "HAZARD asbestos, dangerous dog."
    assert warning_text([]) == ""


def test_a_place_needs_a_word() -> None:
    with pytest.raises(ValidationError, match="at least one letter or digit"):
        Hazard(id="HZ-0", kind="x", places=["--"])


def test_the_warning_survives_the_shortest_channel() -> None:
    inc = Incident(
        id=1,
        reference="INC-2026-000042",
        source="desk",
        state=IncidentState.TRIAGED,
        created_at=0.0,
        updated_at=0.0,
        nature="roof fire spreading to the neighbouring warehouse roof",
        location="4 Mill Lane",
        category="fire",
        priority=Priority.P1,
    )
    text = dispatch_text(inc, warning_text(match_hazards(inc.location, REGISTER)))
    assert text.startswith("INC-2026-000042 P1 FIRE: HAZARD asbestos, dangerous dog. roof fire")
    short = fit_message(text, max_length=64, max_parts=1)
    assert "HAZARD asbestos, dangerous dog." in short.parts[0]
