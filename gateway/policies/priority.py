"""Priority from impact x urgency through the configured matrix (ITIL style, 1 = high)."""

from __future__ import annotations

from gateway.domain.states import Priority
from gateway.errors import ValidationFailed


def priority_for(impact: int, urgency: int, matrix: list[list[Priority]]) -> Priority:
    """Look up `matrix[impact - 1][urgency - 1]`.

    Impact and urgency are 1-based, 1 being the most severe. A value outside the matrix raises
    ValidationFailed naming the field and the allowed range (both fields if both are wrong).
    """
    if not matrix or not all(matrix):
        raise ValueError("the priority matrix must have at least one row and one column")
    problems: dict[str, str] = {}
    impacts = len(matrix)
    if not 1 <= impact <= impacts:
        problems["impact"] = f"must be between 1 (high) and {impacts} (low), got {impact}"
    urgencies = len(matrix[impact - 1]) if "impact" not in problems else min(len(row) for row in matrix)
    if not 1 <= urgency <= urgencies:
        problems["urgency"] = f"must be between 1 (high) and {urgencies} (low), got {urgency}"
    if problems:
        raise ValidationFailed(problems)
    return matrix[impact - 1][urgency - 1]
