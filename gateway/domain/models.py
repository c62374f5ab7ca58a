"""Records of the domain. Plain dataclasses; the store maps them to rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One way to reach someone: an address on a configured channel."""

    channel: str
    address: str
    # A tighter limit than the channel's for this endpoint (e.g. an old pager's display).
    max_length: int | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """A unit's last reported fix: WGS 84 degrees, when it was taken (epoch seconds; the time of
    receipt when the report carries none) and the channel that brought it."""

    lat: float
    lon: float
    observed_at: float
    source: str


@dataclass(slots=True)
class Incident:
    id: int
    reference: str
    source: str
    state: IncidentState
    created_at: float
    updated_at: float
    # Personal data (redacted in logs and exports): caller_number, caller_name. The store keeps
    # them apart, in the subjects table row `subject_id` (docs/privacy.md).
    caller_number: str | None = None
    caller_name: str | None = None
    subject_id: int | None = None
    call_id: str | None = None
    called_number: str | None = None
    desk: str | None = None
    nature: str | None = None
    location: str | None = None
    # Coordinates of the location (WGS 84 degrees): from the form, or from the gazetteer.
    lat: float | None = None
    lon: float | None = None
    category: str | None = None
    classification: Classification | None = None
    impact: int | None = None
    urgency: int | None = None
    priority: Priority | None = None
    recommendation: list[dict[str, Any]] = field(default_factory=list)
    escalation_level: int = 0
    lessons: str | None = None
    # Set when this incident was merged into another as a duplicate (it is then closed): the
    # surviving incident's reference. gateway/services/merge.py.
    merged_into: str | None = None
    call_answered_at: float | None = None
    call_ended_at: float | None = None
    triaged_at: float | None = None
    dispatched_at: float | None = None
    acknowledged_at: float | None = None
    on_scene_at: float | None = None
    resolved_at: float | None = None
    closed_at: float | None = None
    cancelled_at: float | None = None


PERSONAL_FIELDS = frozenset({"caller_number", "caller_name"})


@dataclass(slots=True)
class Resource:
    id: str
    name: str
    capabilities: list[str]
    contact_plan: list[Endpoint]
    status: UnitStatus = UnitStatus.AVAILABLE
    status_since: float = 0.0
    last_contact_at: float | None = None
    priorities: list[Priority] = field(default_factory=lambda: list(Priority))
    current_incident: str | None = None
    position: Position | None = None  # the last fix reported (gateway/services/positions.py)


@dataclass(slots=True)
class Stakeholder:
    id: str
    name: str
    groups: list[str]
    contact_plan: list[Endpoint]


@dataclass(slots=True)
class Dispatch:
    id: int
    incident_id: int
    created_at: float
    reason: str
    created_by: str


@dataclass(slots=True)
class Delivery:
    """One message to one recipient for one dispatch; it walks the recipient's contact plan."""

    id: int
    dispatch_id: int
    incident_id: int
    recipient_kind: RecipientKind
    recipient_id: str
    purpose: Purpose
    text: str
    priority: Priority
    mode: DeliveryMode
    needs_ack: bool
    plan: list[Endpoint]
    state: DeliveryState
    created_at: float
    updated_at: float
    next_endpoint: int = 0
    confirm_timeout: float = 60.0
    ack_timeout: float = 120.0
    round: int = 1
    acknowledged_at: float | None = None
    ack_evidence: dict[str, Any] | None = None
    # Set when the engine has nothing more to do: outcome is acknowledged, declined, delivered,
    # sent, exhausted or cancelled.
    completed_at: float | None = None
    outcome: DeliveryOutcome | None = None


@dataclass(slots=True)
class Attempt:
    """One try of a delivery on one endpoint of its plan."""

    id: int
    delivery_id: int
    endpoint_index: int
    channel: str
    address: str
    state: DeliveryState
    tries: int
    created_at: float
    updated_at: float
    next_try_at: float | None = None
    sent_at: float | None = None
    delivered_at: float | None = None
    confirm_deadline_at: float | None = None
    ack_deadline_at: float | None = None
    channel_ref: str | None = None
    closed_reason: CloseReason | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Survey:
    """The caller's opt-in satisfaction survey for one incident (gateway/services/survey.py)."""

    id: int
    incident_id: int
    subject_id: int
    state: str  # consented, sent, answered, expired, withdrawn
    consented_at: float
    consented_by: str
    channel: str | None = None
    delivery_id: int | None = None
    sent_at: float | None = None
    expires_at: float | None = None
    score: int | None = None
    answered_at: float | None = None
    clarified: bool = False
