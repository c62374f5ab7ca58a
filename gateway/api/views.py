"""Response shapes, as pydantic models, for the API description (gateway/api/openapi.py).

The handlers build their answers in gateway/api/serialize.py; these models describe them, and
the schemathesis run (tests/api/test_openapi.py) checks every answer against them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class View(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorView(View):
    """Every refusal: a slug, a sentence, and details (`fields` for 422)."""

    error: str
    message: str | None


class IncidentView(View):
    reference: str
    source: str
    state: str
    nature: str | None
    location: str | None
    lat: float | None  # the location's coordinates (form or gazetteer)
    lon: float | None
    category: str | None
    classification: str | None
    impact: int | None
    urgency: int | None
    priority: str | None
    caller_number: str | None  # masked for viewers and engineers
    caller_name: str | None
    call_id: str | None
    called_number: str | None
    desk: str | None
    recommendation: list[dict[str, Any]]
    escalation_level: int
    lessons: str | None
    merged_into: str | None = None  # closed as a duplicate of this incident
    resolution: str | None = None
    response_target_seconds: float | None
    response_due_at: str | None
    created_at: str
    updated_at: str


class IncidentDetailView(IncidentView):
    timeline: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    merged: list[dict[str, Any]] = []  # duplicates merged into it: their calls, callers, timelines


class MergeView(View):
    duplicate: IncidentView
    survivor: IncidentView
    moved: list[str]  # units carried over to the survivor
    stood_down: list[str]  # units told to stand down from the duplicate
    cancelled_deliveries: int


class DispatchView(View):
    incident: IncidentView
    deliveries: list[dict[str, Any]]


class ResourceView(View):
    id: str
    name: str
    capabilities: list[str]
    status: str
    contact_plan: list[dict[str, Any]]
    position: dict[str, Any] | None  # the last fix: lat, lon, observed_at, source, stale_at (or null)


class ChannelView(View):
    name: str
    kind: str
    health: dict[str, Any]
    capabilities: dict[str, Any]


class MeView(View):
    name: str
    role: str
    permissions: list[str]


class ExportView(View):
    number: str
    exported_at: str
    subjects: list[dict[str, Any]]
    incidents: list[dict[str, Any]]


class ErasureView(View):
    erased: int
    incidents: list[str]
    message: str


class Anything(View):
    """An object whose shape the route's own documentation gives (KPIs, reviews, probes)."""
