"""Explicit state enums and the one table of legal transitions for each (STYLE.md practice 6)."""

from __future__ import annotations

from enum import StrEnum

from gateway.errors import IllegalTransition


class IncidentState(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


_S = IncidentState
INCIDENT_TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    # An enquiry or service request may be resolved at the desk without a dispatch.
    _S.NEW: frozenset({_S.TRIAGED, _S.CANCELLED}),
    _S.TRIAGED: frozenset({_S.TRIAGED, _S.DISPATCHED, _S.RESOLVED, _S.CANCELLED}),
    _S.DISPATCHED: frozenset({_S.DISPATCHED, _S.ACKNOWLEDGED, _S.ON_SCENE, _S.RESOLVED, _S.CANCELLED}),
    _S.ACKNOWLEDGED: frozenset({_S.ON_SCENE, _S.RESOLVED, _S.CANCELLED}),
    _S.ON_SCENE: frozenset({_S.RESOLVED}),
    _S.RESOLVED: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
    _S.CANCELLED: frozenset({_S.CLOSED}),
}
OPEN_INCIDENT_STATES = frozenset({_S.NEW, _S.TRIAGED, _S.DISPATCHED, _S.ACKNOWLEDGED, _S.ON_SCENE})


def check_incident_transition(key: str, current: IncidentState, target: IncidentState) -> None:
    if target not in INCIDENT_TRANSITIONS[current]:
        raise IllegalTransition(entity="incident", key=key, current=current, target=target)


class Classification(StrEnum):
    INCIDENT = "incident"
    SERVICE_REQUEST = "service_request"
    ENQUIRY = "enquiry"


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class UnitStatus(StrEnum):
    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RETURNING = "returning"
    UNAVAILABLE = "unavailable"
    OUT_OF_SERVICE = "out_of_service"


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    FAILED_TEMPORARY = "failed_temporary"
    FAILED_PERMANENT = "failed_permanent"
    CANCELLED = "cancelled"


_D = DeliveryState
# Transitions of one attempt on one endpoint. A delivery's own state is derived from its attempts
# (see gateway.engine.progress), so it moves through the same names.
ATTEMPT_TRANSITIONS: dict[DeliveryState, frozenset[DeliveryState]] = {
    _D.PENDING: frozenset({_D.SENDING, _D.CANCELLED, _D.FAILED_PERMANENT}),
    # SENDING -> SENDING happens when a restart resumes an attempt that was in flight.
    _D.SENDING: frozenset(
        {_D.SENDING, _D.SENT, _D.DELIVERED, _D.FAILED_TEMPORARY, _D.FAILED_PERMANENT, _D.CANCELLED}
    ),
    _D.FAILED_TEMPORARY: frozenset({_D.SENDING, _D.FAILED_PERMANENT, _D.CANCELLED}),
    _D.SENT: frozenset({_D.DELIVERED, _D.ACKNOWLEDGED, _D.FAILED_PERMANENT, _D.CANCELLED}),
    _D.DELIVERED: frozenset({_D.ACKNOWLEDGED, _D.CANCELLED}),
    _D.ACKNOWLEDGED: frozenset(),
    _D.FAILED_PERMANENT: frozenset(),
    _D.CANCELLED: frozenset(),
}
# How far a message got; the delivery shows the furthest of its attempts.
PROGRESS_RANK: dict[DeliveryState, int] = {
    _D.FAILED_PERMANENT: 0,
    _D.CANCELLED: 0,
    _D.PENDING: 1,
    _D.FAILED_TEMPORARY: 2,
    _D.SENDING: 3,
    _D.SENT: 4,
    _D.DELIVERED: 5,
    _D.ACKNOWLEDGED: 6,
}
ACTIVE_ATTEMPT_STATES = frozenset({_D.PENDING, _D.SENDING, _D.FAILED_TEMPORARY})
REACHED_STATES = frozenset({_D.SENT, _D.DELIVERED, _D.ACKNOWLEDGED})


def check_attempt_transition(key: int, current: DeliveryState, target: DeliveryState) -> None:
    if target not in ATTEMPT_TRANSITIONS[current]:
        raise IllegalTransition(entity="attempt", key=key, current=current, target=target)


class DeliveryMode(StrEnum):
    LADDER = "ladder"
    PARALLEL = "parallel"


class Purpose(StrEnum):
    DISPATCH = "dispatch"
    NOTIFY = "notify"
    STAND_DOWN = "stand_down"
