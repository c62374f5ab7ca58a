"""Domain records as JSON: ISO times, enums as their values.

Authenticated users get the caller's full number (they call back); audit data in a timeline is
masked like every export.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from adapters.base import Channel
from gateway.clock import iso
from gateway.domain.models import Attempt, Delivery, Incident, Position, Resource
from gateway.domain.personal import redact_fields

_INCIDENT_TIMES = tuple(f.name for f in fields(Incident) if f.name.endswith("_at"))


def incident(inc: Incident, *, response_target: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "reference": inc.reference,
        "source": inc.source,
        "state": inc.state.value,
        "nature": inc.nature,
        "location": inc.location,
        "lat": inc.lat,
        "lon": inc.lon,
        "category": inc.category,
        "classification": inc.classification.value if inc.classification else None,
        "impact": inc.impact,
        "urgency": inc.urgency,
        "priority": inc.priority.value if inc.priority else None,
        "caller_number": inc.caller_number,
        "caller_name": inc.caller_name,
        "call_id": inc.call_id,
        "called_number": inc.called_number,
        "desk": inc.desk,
        "recommendation": inc.recommendation,
        "escalation_level": inc.escalation_level,
        "lessons": inc.lessons,
        "merged_into": inc.merged_into,
        "resolution": f"merged into {inc.merged_into}" if inc.merged_into else None,
        "response_target_seconds": response_target,
        "response_due_at": iso(inc.created_at + response_target) if response_target else None,
    }
    out.update({name: iso(getattr(inc, name)) for name in _INCIDENT_TIMES})
    return out


def attempt(a: Attempt) -> dict[str, Any]:
    return {
        "id": a.id,
        "endpoint": a.endpoint_index,
        "channel": a.channel,
        "address": a.address,
        "state": a.state.value,
        "tries": a.tries,
        "channel_ref": a.channel_ref,
        "closed_reason": a.closed_reason,
        "evidence": a.evidence,
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
        "next_try_at": iso(a.next_try_at),
        "sent_at": iso(a.sent_at),
        "delivered_at": iso(a.delivered_at),
        "confirm_deadline_at": iso(a.confirm_deadline_at),
        "ack_deadline_at": iso(a.ack_deadline_at),
    }


def delivery(d: Delivery, attempts: list[Attempt]) -> dict[str, Any]:
    return {
        "id": d.id,
        "dispatch": d.dispatch_id,
        "recipient_kind": d.recipient_kind,
        "recipient": d.recipient_id,
        "purpose": d.purpose.value,
        "text": d.text,
        "priority": d.priority.value,
        "mode": d.mode.value,
        "needs_ack": d.needs_ack,
        "state": d.state.value,
        "outcome": d.outcome,
        "round": d.round,
        "plan": [{"channel": e.channel, "address": e.address} for e in d.plan],
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
        "acknowledged_at": iso(d.acknowledged_at),
        "completed_at": iso(d.completed_at),
        "ack_evidence": d.ack_evidence,
        "attempts": [attempt(a) for a in attempts if a.delivery_id == d.id],
    }


def audit_entry(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "at": iso(row["at"]),
        "kind": row["kind"],
        "actor": row["actor"],
        "data": redact_fields(row["data"] or {}),
    }


def audit_event(row: dict[str, Any]) -> dict[str, Any]:
    """An audit row (from `Tx.audit_since`) in the shape of `BusEvent.to_json`, for replays."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "at": iso(row["at"]),
        "incident": row.get("reference"),
        "data": {**(row["data"] or {}), "actor": row["actor"]},
    }


def resource(r: Resource, *, max_age: float | None = None) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "capabilities": r.capabilities,
        "status": r.status.value,
        "status_since": iso(r.status_since),
        "last_contact_at": iso(r.last_contact_at),
        "current_incident": r.current_incident,
        "priorities": [p.value for p in r.priorities],
        "contact_plan": [{"channel": e.channel, "address": e.address} for e in r.contact_plan],
        "position": position(r.position, max_age),
    }


def position(p: Position | None, max_age: float | None = None) -> dict[str, Any] | None:
    """A unit's last fix; the board works out its age from `observed_at`, and from `stale_at`
    (observed_at + `[positions] max_age`) when the recommendation stops counting it as fresh."""
    if p is None:
        return None
    out = {"lat": p.lat, "lon": p.lon, "observed_at": iso(p.observed_at), "source": p.source}
    if max_age is not None:
        out["stale_at"] = iso(p.observed_at + max_age)
    return out


def channel(ch: Channel) -> dict[str, Any]:
    return {
        "name": ch.name,
        "kind": ch.kind,
        "health": {"state": ch.health.state.value, "reason": ch.health.reason},
        "capabilities": asdict(ch.capabilities),
    }
