"""Request bodies. Strict: JSON types must match exactly and unknown fields are refused.

Ranges that depend on configuration (impact and urgency against the priority matrix) are checked
by the incident service before it opens a transaction.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, field_validator

from gateway.domain.states import UnitStatus
from gateway.errors import ValidationFailed
from gateway.services.incidents import MANDATORY

_NUMBER = re.compile(r"^\+?\d{3,20}$")
_NUMBER_SEPARATORS = re.compile(r"[\s\-().]")


def normalise_number(value: str) -> str:
    """`+44 7700-900121` -> `+447700900121`; the store matches callers on this form."""
    number = _NUMBER_SEPARATORS.sub("", value)
    if not _NUMBER.match(number):
        raise ValueError("must be a phone number: digits, optionally starting with +")
    return number


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


Text = Annotated[str, Field(max_length=500), AfterValidator(_not_blank)]
Short = Annotated[str, Field(max_length=64), AfterValidator(_not_blank)]
Note = Annotated[str, Field(max_length=2000)]
Lessons = Annotated[str, Field(max_length=20000)]
Number = Annotated[str, Field(max_length=40), AfterValidator(normalise_number)]
Name = Annotated[str, Field(max_length=200)]
Level = Annotated[int, Field(ge=1, le=9)]  # the configured matrix's bounds are the service's check
Latitude = Annotated[float, Field(ge=-90, le=90)]  # WGS 84 degrees
Longitude = Annotated[float, Field(ge=-180, le=180)]


class Body(BaseModel):
    # allow_inf_nan: no NaN or infinity in any number (they also never get past load_json).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class EmptyBody(Body):
    """Actions that take no input still refuse unknown fields."""


class IncidentFields(Body):
    """The incident fields a desk may set, each optional (a PATCH sends only what changes)."""

    nature: Text | None = None
    location: Text | None = None
    category: Short | None = None
    impact: Level | None = None
    urgency: Level | None = None
    caller_number: Number | None = None
    caller_name: Name | None = None
    called_number: Number | None = None
    desk: Short | None = None
    # The location's coordinates, where the form knows them; else the gazetteer may give them.
    lat: Latitude | None = None
    lon: Longitude | None = None


class IncidentCreate(IncidentFields):
    nature: Text
    source: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] = "desk"

    def fields(self) -> dict[str, Any]:
        """The incident's fields for the service (without `source`, which is its own argument)."""
        return {k: v for k, v in self.model_dump(exclude={"source"}).items() if v is not None}


class IncidentPatch(IncidentFields):
    lessons: Lessons | None = None

    def changes(self) -> dict[str, Any]:
        """The fields the client sent. The fields triage needs may change but not be cleared."""
        sent = self.model_dump(exclude_unset=True)
        if not sent:
            raise ValidationFailed({"body": "name at least one field to change"})
        cleared = {k: "cannot be cleared" for k in MANDATORY if k in sent and sent[k] is None}
        if cleared:
            raise ValidationFailed(cleared)
        return sent


class DispatchBody(Body):
    resources: list[Short] | Literal["recommended"]

    @field_validator("resources")
    @classmethod
    def _some(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list) and not 1 <= len(value) <= 50:
            raise ValueError("name from 1 to 50 resources, or 'recommended'")
        return value

    def resource_ids(self) -> list[str] | None:
        return None if self.resources == "recommended" else list(self.resources)


class AcknowledgeBody(Body):
    resource: Short | None = None


class NoteBody(Body):
    note: Note = ""


class MergeBody(Body):
    """Merge this incident, a duplicate, into `into` (gateway/services/merge.py)."""

    into: Annotated[str, Field(max_length=32, pattern=r"^INC-\d{4}-\d{6}$")]
    note: Note = ""


class CloseBody(Body):
    lessons: Lessons | None = None


class UnitStatusBody(Body):
    status: UnitStatus


class InboundReply(Body):
    type: Literal["reply"]
    address: Short
    text: Annotated[str, Field(min_length=1, max_length=2000)]


class InboundAck(Body):
    type: Literal["ack"]
    address: Short
    message_id: Short | None = None


class InboundStatus(Body):
    type: Literal["status"]
    address: Short
    status: UnitStatus


class InboundPosition(Body):
    """A fix from the field app: degrees, and when it was taken (`observed_at`, epoch seconds)."""

    type: Literal["position"]
    address: Short
    lat: Latitude
    lon: Longitude
    observed_at: Annotated[float, Field(ge=0)] | None = None


class InboundReport(Body):
    type: Literal["report"]
    channel_ref: Short
    delivered: bool
    reason: Note = ""


INBOUND: dict[str, type[Body]] = {
    "reply": InboundReply,
    "ack": InboundAck,
    "status": InboundStatus,
    "position": InboundPosition,
    "report": InboundReport,
}


class InboundBody(RootModel[InboundReply | InboundAck | InboundStatus | InboundPosition | InboundReport]):
    """What `POST /api/v1/channels/{name}/inbound` takes, one of the INBOUND bodies by `type` (for
    the API description; the handler picks the model from `type` itself)."""

    root: Annotated[
        InboundReply | InboundAck | InboundStatus | InboundPosition | InboundReport,
        Field(discriminator="type"),
    ]
