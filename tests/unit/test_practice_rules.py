"""Per-category practice ([[triage.categories]]): which practice a category has, which required
questions are unanswered, and answer rules that only ever raise impact or urgency, with reasons."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.settings import TriageSettings
from gateway.settings_sections import CategoryPractice
from gateway.triage import missing_answers, practice_for, raise_by_answers

FIRE = CategoryPractice.model_validate(
    {
        "category": "Fire",
        "required": ["trapped"],
        "questions": [
            {"id": "trapped", "text": "Is anyone trapped inside?", "choices": ["yes", "no", "unknown"]},
            {"id": "gas", "text": "Are there gas cylinders nearby?", "choices": ["yes", "no"]},
            {"id": "floor", "text": "Which floor?"},
        ],
        "advice": ["Leave the building and close the doors behind you."],
        "rules": [
            {
                "question": "trapped",
                "answers": ["yes", "unknown"],
                "impact": 1,
                "urgency": 1,
                "reason": "people may be trapped",
            },
            {"question": "gas", "answers": ["yes"], "urgency": 1, "reason": "gas cylinders at risk"},
        ],
    }
)


def test_practice_is_found_by_category_ignoring_case_and_padding() -> None:
    assert practice_for("  fIRE ", [FIRE]) is FIRE
    assert practice_for("medical", [FIRE]) is None
    assert practice_for(None, [FIRE]) is None


def test_required_questions_left_unanswered() -> None:
    assert missing_answers(FIRE, {}) == ["trapped"]
    assert missing_answers(FIRE, {"trapped": "  "}) == ["trapped"]
    assert missing_answers(FIRE, {"trapped": "no"}) == []
    assert missing_answers(None, {}) == []


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({}, (3, 3, 0)),
        ({"trapped": "no", "gas": "no"}, (3, 3, 0)),
        ({"trapped": " YES "}, (1, 1, 1)),
        ({"gas": "yes"}, (3, 1, 1)),
        ({"trapped": "unknown", "gas": "yes"}, (1, 1, 1)),  # the second rule has nothing left to raise
        ({"floor": "yes"}, (3, 3, 0)),
    ],
)
def test_answer_rules_raise_and_say_why(answers: dict[str, str], expected: tuple[int, int, int]) -> None:
    raised = raise_by_answers(3, 3, FIRE, answers)
    assert (raised.impact, raised.urgency, len(raised.reasons)) == expected


def test_a_rule_never_lowers_and_its_reason_names_the_answer() -> None:
    raised = raise_by_answers(1, 2, FIRE, {"gas": "yes"})
    assert (raised.impact, raised.urgency) == (1, 1)
    assert raised.reasons == ("gas cylinders at risk (gas = yes: urgency 2→1)",)
    assert raise_by_answers(1, 1, FIRE, {"trapped": "yes"}).reasons == ()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"required": ["nope"]}, "no question 'nope'"),
        (
            {"rules": [{"question": "gas", "answers": ["maybe"], "urgency": 1, "reason": "r"}]},
            "no choice 'maybe'",
        ),
        ({"rules": [{"question": "gas", "answers": ["yes"], "reason": "r"}]}, "must raise impact or urgency"),
        ({"questions": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}, "duplicate question ids"),
    ],
)
def test_bad_practice_is_refused_with_a_reason(change: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        CategoryPractice.model_validate({**FIRE.model_dump(), **change})


def test_one_practice_per_category_and_rules_within_the_matrix() -> None:
    with pytest.raises(ValidationError, match="more than one entry for fire"):
        TriageSettings(categories=[FIRE, FIRE.model_copy(update={"category": "fire "})])
    small = [["P1", "P2"], ["P2", "P3"]]
    with pytest.raises(ValidationError, match="beyond the matrix"):
        TriageSettings.model_validate(
            {
                "matrix": small,
                "categories": [
                    {
                        "category": "x",
                        "questions": [{"id": "q", "text": "?"}],
                        "rules": [{"question": "q", "answers": ["y"], "impact": 3, "reason": "r"}],
                    }
                ],
            }
        )
