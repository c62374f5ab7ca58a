"""Configuration of what the gateway tells people who are not dispatched: stakeholder updates at
an incident's stages and on a timer (`[updates]`, gateway/services/updates.py), and the caller's
opt-in satisfaction survey by SMS (`[survey]`, gateway/services/survey.py). gateway/settings.py
assembles them into `Settings` and checks the channels and groups they name."""

from __future__ import annotations

import string
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from gateway.domain.states import Priority
from gateway.settings_sections import Strict

# What a template may say: the incident's reference, priority, category, location, state and a
# summary (its nature). Anything else in braces is a configuration error.
PLACEHOLDERS = frozenset({"ref", "priority", "category", "location", "state", "summary"})


class Stage(StrEnum):
    """When a stakeholder update goes out: an incident's transitions, or `timer` while it is open."""

    OPENED = "opened"  # first triaged: it has a priority
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CLOSED = "closed"
    TIMER = "timer"


def check_template(text: str, allowed: frozenset[str] = PLACEHOLDERS) -> str:
    """A template's placeholders are all known and it is valid `str.format` syntax."""
    try:
        fields = [f for _, f, _spec, _conv in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise ValueError(f"not a valid template: {exc}") from None
    unknown = sorted({f for f in fields if f not in allowed})
    if unknown:
        raise ValueError(
            f"unknown placeholder {{{unknown[0]}}}; use {', '.join('{' + p + '}' for p in sorted(allowed))}"
        )
    if not text.strip():
        raise ValueError("must not be empty")
    return text


DEFAULT_TEMPLATES: dict[Stage, str] = {
    Stage.OPENED: "{ref} {priority} {category} opened: {summary} at {location}",
    Stage.DISPATCHED: "{ref} {priority} {category} units dispatched: {summary} at {location}",
    Stage.ON_SCENE: "{ref} {priority} {category} units on scene at {location}",
    Stage.RESOLVED: "{ref} {priority} {category} resolved: {summary} at {location}",
    Stage.CLOSED: "{ref} {priority} {category} closed",
    Stage.TIMER: "{ref} {priority} {category} still {state}: {summary} at {location}",
}


# A stage's wording; an error names its key (`updates.groups.0.templates.resolved`).
Template = Annotated[str, AfterValidator(check_template)]


class UpdateGroup(Strict):
    """`[[updates.groups]]`: one stakeholder group, the stages it hears about, for which
    priorities, and how often it hears while an incident is open (`every`, seconds per priority)."""

    group: str = Field(min_length=1)
    stages: list[Stage] = Field(
        default_factory=lambda: [Stage.OPENED, Stage.DISPATCHED, Stage.ON_SCENE, Stage.RESOLVED, Stage.CLOSED]
    )
    priorities: list[Priority] = Field(default_factory=lambda: list(Priority))
    every: dict[Priority, float] = Field(default_factory=dict)
    templates: dict[Stage, Template] = Field(default_factory=dict, description="this group's own wording")

    @field_validator("every")
    @classmethod
    def _positive(cls, v: dict[Priority, float]) -> dict[Priority, float]:
        for prio, seconds in v.items():
            if seconds < 60:
                raise ValueError(f"{prio.value}: at least 60 seconds between timed updates")
        return v

    @model_validator(mode="after")
    def _timer_stage(self) -> UpdateGroup:
        if Stage.TIMER in self.stages:
            raise ValueError("stages: 'timer' is not a stage to list; set `every` instead")
        odd = [p.value for p in self.every if p not in self.priorities]
        if odd:
            raise ValueError(f"every: {odd[0]} is not among this group's priorities")
        return self

    def template(self, stage: Stage, defaults: dict[Stage, str]) -> str:
        return self.templates.get(stage) or defaults.get(stage) or DEFAULT_TEMPLATES[stage]


class UpdateSettings(Strict):
    """`[updates]`: stakeholder updates. `templates` replace the built-in wording per stage."""

    check_interval: float = Field(30.0, gt=0, description="seconds between looks for timed updates")
    templates: dict[Stage, Template] = Field(default_factory=dict)
    groups: list[UpdateGroup] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_entry_per_group(self) -> UpdateSettings:
        names = [g.group for g in self.groups]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"groups: more than one entry for {dupes[0]!r}")
        return self


SURVEY_PLACEHOLDERS = frozenset({"ref"})


class SurveySettings(Strict):
    """`[survey]`: the post-call satisfaction survey, sent by SMS to a caller who agreed to it."""

    # The SMS channel it goes out on and replies come back on; empty: no surveys.
    channel: str = ""
    template: str = (
        "Thank you for calling about {ref}. How satisfied were you? Reply with a number from "
        "1 (not at all) to 5 (very). Standard rates apply."
    )
    clarify: str = "Sorry, we did not understand. Please reply with one number from 1 to 5 about {ref}."
    delay: float = Field(0.0, ge=0, description="seconds after the incident is resolved")
    window: float = Field(86400.0, gt=0, description="seconds a reply is accepted after the survey")
    check_interval: float = Field(30.0, gt=0)

    @field_validator("template", "clarify")
    @classmethod
    def _known(cls, v: str) -> str:
        return check_template(v, SURVEY_PLACEHOLDERS)

    @property
    def enabled(self) -> bool:
        return bool(self.channel)


SMS_KINDS = frozenset({"sms_modem", "smpp", "sms_http"})


def check_references(
    updates: UpdateSettings, survey: SurveySettings, groups: set[str], kinds: dict[str, str]
) -> None:
    """The groups `[updates]` names have stakeholders; `[survey]` names a configured SMS channel."""
    for i, ug in enumerate(updates.groups):
        if ug.group not in groups:
            raise ValueError(f"updates.groups.{i}.group: no stakeholder is in group {ug.group!r}")
    name = survey.channel
    if not name:
        return
    if name not in kinds:
        raise ValueError(f"survey.channel: unknown channel {name!r}")
    if kinds[name] not in SMS_KINDS:
        raise ValueError(
            f"survey.channel: {name!r} is a {kinds[name]} channel; the survey needs SMS "
            f"({', '.join(sorted(SMS_KINDS))})"
        )
