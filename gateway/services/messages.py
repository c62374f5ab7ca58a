"""The words sent to the field. Short, plain and 7-bit safe, so every channel can carry them."""

from __future__ import annotations

from gateway.domain.models import Incident


def serial(reference: str) -> int:
    """`INC-2026-000042` -> 42, the short form a reply may quote (`ACK 42`)."""
    return int(reference.rsplit("-", 1)[-1])


def dispatch_text(i: Incident, hazard: str = "") -> str:
    """`hazard` (gateway/policies/hazards.py warning_text) goes right after the reference and
    priority, so a channel that must truncate the message keeps it."""
    what = i.nature or "incident"
    where = f" at {i.location}" if i.location else ""
    cat = f" {i.category.upper()}" if i.category else ""
    warn = f" {hazard}" if hazard else ""
    text = f"{i.reference} {i.priority or ''}{cat}:{warn} {what}{where}. Reply ACK {serial(i.reference)}"
    return text.replace("  ", " ")


def stand_down_text(i: Incident, why: str) -> str:
    return f"{i.reference} STAND DOWN: {why}. No action needed."


def escalation_text(i: Incident, level: int, after: float) -> str:
    return (
        f"{i.reference} {i.priority or ''} ESCALATION {level}: no acknowledgement after "
        f"{after:g}s. {i.nature or ''} at {i.location or 'unknown location'}"
    )


def merged_stand_down_text(duplicate: Incident, survivor: Incident, *, carry_on: bool) -> str:
    """To a unit reached on an incident merged into another (gateway/services/merge.py)."""
    then = f"Carry on with {survivor.reference}." if carry_on else "No action needed."
    return f"{duplicate.reference} STAND DOWN: duplicate of {survivor.reference}, merged. {then}"


def merged_dispatch_text(duplicate: Incident, survivor: Incident, hazard: str = "") -> str:
    """To a unit carried over from a merged duplicate: the survivor's dispatch, the old reference
    last (a channel that must truncate keeps the new reference and the hazard)."""
    return f"{dispatch_text(survivor, hazard)}. Replaces {duplicate.reference} (merged)"
