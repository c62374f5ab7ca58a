"""Configuration sections of the desk's practice (`[[triage.categories]]`, `[[hazards]]`), on-call
rotas (`[[schedules]]`), planned works (`[[maintenance]]`) and `[privacy]`; gateway/settings.py
assembles them into `Settings`. `Strict` models refuse unknown keys, so a typo is an error that
names its key."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Question(Strict):
    """A scripted question the call-taker asks for a category; `choices` empty: free text."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    text: str = Field(min_length=1)
    choices: list[str] = Field(default_factory=list)


class AnswerRule(Strict):
    """An answer that raises impact or urgency (1 is high): `if question's answer is one of
    answers, impact becomes at most impact`. `reason` is written into the triage rationale."""

    question: str
    answers: list[str] = Field(min_length=1)
    impact: int | None = Field(None, ge=1)
    urgency: int | None = Field(None, ge=1)
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _raises_something(self) -> AnswerRule:
        if self.impact is None and self.urgency is None:
            raise ValueError("an answer rule must raise impact or urgency")
        return self


class CategoryPractice(Strict):
    """`[[triage.categories]]`: what the call-taker does for one category beyond the five fields."""

    category: str = Field(min_length=1)
    required: list[str] = Field(default_factory=list, description="question ids answered before triage")
    questions: list[Question] = Field(default_factory=list)
    advice: list[str] = Field(default_factory=list, description="safety advice read to the caller")
    rules: list[AnswerRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_questions(self) -> CategoryPractice:
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate question ids in category {self.category!r}")
        for name in [*self.required, *(r.question for r in self.rules)]:
            if name not in ids:
                raise ValueError(f"category {self.category!r}: no question {name!r}")
        for r in self.rules:
            q = next(q for q in self.questions if q.id == r.question)
            odd = [a for a in r.answers if q.choices and a not in q.choices]
            if odd:
                raise ValueError(f"category {self.category!r}: {r.question} has no choice {odd[0]!r}")
        return self


class Hazard(Strict):
    """`[[hazards]]`: a hazard recorded at an address or an area (gateway/policies/hazards.py)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    kind: str = Field(min_length=1, max_length=40, description="asbestos, dangerous dog, ...")
    places: list[str] = Field(min_length=1, description="addresses or areas it applies to")
    note: str = ""

    @field_validator("places")
    @classmethod
    def _has_words(cls, v: list[str]) -> list[str]:
        if any(not re.findall(r"[0-9A-Za-z]", p) for p in v):
            raise ValueError("every place needs at least one letter or digit")
        return v


class OverrideConfig(Strict):
    member: str = Field(description='the stakeholder who covers; "" for nobody (a planned gap)')
    start: AwareDatetime
    end: AwareDatetime


class ScheduleConfig(Strict):
    """An on-call rotation of stakeholders (gateway/schedules.py)."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str = ""
    members: list[str] = Field(min_length=1)
    time_zone: str = "UTC"
    rotation: Literal["daily", "weekly"] = "weekly"
    handover: str = Field("08:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    handover_day: Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"] = "MO"
    start: date
    overrides: list[OverrideConfig] = Field(default_factory=list)
    holidays: list[date] = Field(default_factory=list)
    holiday_member: str = ""
    p1: bool = Field(True, description="check-config warns about gaps in its cover")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (IANA names, e.g. Europe/London)") from exc
        return value


class MaintenanceConfig(Strict):
    """A planned-works window (gateway/maintenance.py): a channel counts as down, a resource is
    not recommended. Times carry their UTC offset (TOML offset date-times, RFC 3339)."""

    channel: str = ""
    resource: str = ""
    start: AwareDatetime
    end: AwareDatetime
    reason: str = ""

    @model_validator(mode="after")
    def _one_target(self) -> MaintenanceConfig:
        if bool(self.channel) == bool(self.resource):
            raise ValueError("name exactly one of channel or resource")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class RetentionDays(Strict):
    """Days personal data is kept after an incident closes (by its classification; an incident
    never classified counts as `incident`), and after a call record (a call that made no
    incident: offered, abandoned) was made. Then the daily purge pseudonymises it."""

    incident: int = Field(730, ge=1)
    service_request: int = Field(365, ge=1)
    enquiry: int = Field(90, ge=1)
    call: int = Field(90, ge=1)


class PrivacySettings(Strict):
    """Personal data (docs/privacy.md): how long it is kept and how reads of it are audited."""

    retention_days: RetentionDays = Field(default_factory=RetentionDays)
    purge_interval: float = Field(86400.0, gt=0, description="seconds between purges (daily)")
    # A dispatcher's or supervisor's reads of one incident's whole caller number are audited at
    # most once per this many seconds (a queue refreshing every few seconds is one read, not many).
    view_audit_interval: float = Field(300.0, ge=0)
    # Incidents whose personal data must be kept whatever its age (erasure refused, purge skips).
    legal_hold: list[str] = Field(default_factory=list)
