"""Mapping between rows and domain records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from gateway.domain.models import Attempt, Delivery, Endpoint, Incident, Position, Resource
from gateway.domain.states import (
    Classification,
    CloseReason,
    DeliveryMode,
    DeliveryOutcome,
    DeliveryState,
    IncidentState,
    Priority,
    Purpose,
    RecipientKind,
    UnitStatus,
)


def plan_to_json(plan: list[Endpoint]) -> list[dict[str, Any]]:
    return [{"channel": e.channel, "address": e.address, "max_length": e.max_length} for e in plan]


def plan_from_json(data: list[dict[str, Any]]) -> list[Endpoint]:
    return [
        Endpoint(channel=e["channel"], address=e["address"], max_length=e.get("max_length")) for e in data
    ]


def incident_from_row(r: Mapping[Any, Any]) -> Incident:
    values = {f.name: r[f.name] for f in fields(Incident)}
    values["state"] = IncidentState(r["state"])
    values["classification"] = Classification(r["classification"]) if r["classification"] else None
    values["priority"] = Priority(r["priority"]) if r["priority"] else None
    return Incident(**values)


_INCIDENT_FIELDS = tuple(f.name for f in fields(Incident) if f.name != "id")
_DELIVERY_FIELDS = tuple(f.name for f in fields(Delivery) if f.name != "id")
_ATTEMPT_FIELDS = tuple(f.name for f in fields(Attempt) if f.name != "id")


def incident_to_row(i: Incident) -> dict[str, Any]:
    return {name: getattr(i, name) for name in _INCIDENT_FIELDS}


def delivery_to_row(d: Delivery) -> dict[str, Any]:
    row = {name: getattr(d, name) for name in _DELIVERY_FIELDS}
    row["plan"] = plan_to_json(d.plan)
    return row


def attempt_to_row(a: Attempt) -> dict[str, Any]:
    return {name: getattr(a, name) for name in _ATTEMPT_FIELDS}


def resource_from_row(r: Mapping[Any, Any]) -> Resource:
    return Resource(
        id=r["id"],
        name=r["name"],
        capabilities=list(r["capabilities"]),
        contact_plan=plan_from_json(r["contact_plan"]),
        priorities=[Priority(p) for p in r["priorities"]],
        status=UnitStatus(r["status"]),
        status_since=r["status_since"],
        last_contact_at=r["last_contact_at"],
        current_incident=r["current_incident"],
        position=position_from_row(r),
    )


def position_from_row(r: Mapping[Any, Any]) -> Position | None:
    if r["position_at"] is None:
        return None
    return Position(r["position_lat"], r["position_lon"], r["position_at"], r["position_source"] or "")


def resource_to_row(res: Resource) -> dict[str, Any]:
    return {
        "id": res.id,
        "name": res.name,
        "capabilities": list(res.capabilities),
        "contact_plan": plan_to_json(res.contact_plan),
        "priorities": [p.value for p in res.priorities],
        "status": res.status.value,
        "status_since": res.status_since,
        "last_contact_at": res.last_contact_at,
        "current_incident": res.current_incident,
    }


def delivery_from_row(r: Mapping[Any, Any]) -> Delivery:
    values = {f.name: r[f.name] for f in fields(Delivery)}
    values["purpose"] = Purpose(r["purpose"])
    values["priority"] = Priority(r["priority"])
    values["mode"] = DeliveryMode(r["mode"])
    values["state"] = DeliveryState(r["state"])
    values["plan"] = plan_from_json(r["plan"])
    values["needs_ack"] = bool(r["needs_ack"])
    values["recipient_kind"] = RecipientKind(r["recipient_kind"])
    values["outcome"] = DeliveryOutcome(r["outcome"]) if r["outcome"] else None
    return Delivery(**values)


def attempt_from_row(r: Mapping[Any, Any]) -> Attempt:
    values = {f.name: r[f.name] for f in fields(Attempt)}
    values["state"] = DeliveryState(r["state"])
    values["evidence"] = dict(r["evidence"] or {})
    values["closed_reason"] = CloseReason(r["closed_reason"]) if r["closed_reason"] else None
    return Attempt(**values)
