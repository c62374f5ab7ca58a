"""The domain model: incidents, resources, dispatches, deliveries, stakeholders."""

from gateway.domain.models import (
    Attempt,
    Delivery,
    Dispatch,
    Endpoint,
    Incident,
    Resource,
    Stakeholder,
)
from gateway.domain.states import (
    Classification,
    DeliveryMode,
    DeliveryState,
    IncidentState,
    Priority,
    Purpose,
    UnitStatus,
    check_incident_transition,
)

__all__ = [
    "Attempt",
    "Classification",
    "Delivery",
    "DeliveryMode",
    "DeliveryState",
    "Dispatch",
    "Endpoint",
    "Incident",
    "IncidentState",
    "Priority",
    "Purpose",
    "Resource",
    "Stakeholder",
    "UnitStatus",
    "check_incident_transition",
]
