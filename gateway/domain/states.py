"""Explicit state enums and the one table of legal transitions for each (docs/style.md, practice 6)."""

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
# The one move outside the table: merging a duplicate into another incident closes it from any
# open state (gateway/services/merge.py); the survivor must be open too.
MERGEABLE_STATES = OPEN_INCIDENT_STATES


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


_U = UnitStatus
# What a reply in the field grammar (gateway/replies.py) may set whatever the unit was doing:
# EN ROUTE, ON SCENE, and CLEAR or a decline (available).
_REPLIED = frozenset({_U.EN_ROUTE, _U.ON_SCENE, _U.AVAILABLE})
# Moves the gateway makes itself: a dispatch, a reply, a stand-down (back to available). A status
# the unit states (its radio's status key) or the desk sets is taken as stated, unchecked: the
# unit knows what it is doing, and the desk corrects the board.
UNIT_TRANSITIONS: dict[UnitStatus, frozenset[UnitStatus]] = {
    _U.AVAILABLE: _REPLIED | {_U.DISPATCHED},
    # A busy unit may be sent on to another incident.
    _U.DISPATCHED: _REPLIED | {_U.DISPATCHED},
    _U.EN_ROUTE: _REPLIED | {_U.DISPATCHED},
    _U.ON_SCENE: _REPLIED | {_U.DISPATCHED},
    _U.RETURNING: _REPLIED | {_U.DISPATCHED},
    # Not dispatchable until the unit or the desk says it is back.
    _U.UNAVAILABLE: _REPLIED,
    _U.OUT_OF_SERVICE: _REPLIED,
}
NOT_DISPATCHABLE = frozenset(s for s, to in UNIT_TRANSITIONS.items() if _U.DISPATCHED not in to)


def check_unit_transition(key: str, current: UnitStatus, target: UnitStatus) -> None:
    """Staying in a status is never a transition; anything else must be in the table."""
    if target is not current and target not in UNIT_TRANSITIONS[current]:
        raise IllegalTransition(entity="unit", key=key, current=current, target=target)


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
    UPDATE = "update"  # a stakeholder update at a stage or on a timer (gateway/services/updates.py)
    SURVEY = "survey"  # the post-call satisfaction survey to the caller (gateway/services/survey.py)


# Informational deliveries: no ack is awaited, and resolving or closing the incident does not
# cancel them (they say it is resolved or closed, or ask the caller about it).
INFORMATIONAL = frozenset({Purpose.STAND_DOWN, Purpose.UPDATE, Purpose.SURVEY})


class RecipientKind(StrEnum):
    """Who a delivery goes to: a resource (a unit, which acknowledges) or a stakeholder."""

    RESOURCE = "resource"
    STAKEHOLDER = "stakeholder"
    # The incident's caller (an opt-in survey); the plan names the subject row, never the number.
    CALLER = "caller"


class DeliveryOutcome(StrEnum):
    """How a completed delivery ended (`Delivery.outcome`)."""

    ACKNOWLEDGED = "acknowledged"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    DELIVERED = "delivered"  # no ack awaited: the furthest an attempt got
    SENT = "sent"
    EXHAUSTED = "exhausted"  # every endpoint and round tried, no ack


# A delivery ended early by the desk or the recipient: it is not tried again (repage, re-dispatch).
ENDED_EARLY = frozenset({DeliveryOutcome.DECLINED, DeliveryOutcome.CANCELLED})


class CloseReason(StrEnum):
    """Why an attempt is no longer tracked (`Attempt.closed_reason`)."""

    DONE = "done"  # reached, and no ack is awaited
    ONE_WAY = "one_way"  # reached on a channel that cannot carry an ack (a pager)
    FAILED = "failed"
    CHANNEL_DOWN = "channel_down"
    CONFIRM_TIMEOUT = "confirm_timeout"
    ACK_TIMEOUT = "ack_timeout"
    ACKNOWLEDGED = "acknowledged"
    # A delivery ended early: the reason is also the stand-down message's wording.
    INCIDENT_RESOLVED = "incident resolved"
    INCIDENT_CANCELLED = "incident cancelled"
    INCIDENT_CLOSED = "incident closed"
    INCIDENT_MERGED = "incident merged"
    DECLINED = "declined by resource"


# Attempts closed by one of these made the ladder move on to the next endpoint (a fallback).
FALLBACK_REASONS = frozenset(
    {
        CloseReason.FAILED,
        CloseReason.CONFIRM_TIMEOUT,
        CloseReason.ACK_TIMEOUT,
        CloseReason.CHANNEL_DOWN,
        CloseReason.ONE_WAY,
    }
)
