"""Configuration of unit positions (`[positions]`) and of the gazetteer of known places
(`[[gazetteer.places]]`); gateway/settings.py assembles them into `Settings`."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from gateway.settings_sections import Strict


class PositionSettings(Strict):
    """How positions count in a recommendation (gateway/triage.py) and in the audit trail."""

    # A fix older than this is stale: the unit still ranks by distance, but after every unit
    # whose fix is fresh (it may have moved since).
    max_age: float = Field(300.0, gt=0, description="seconds a position counts as fresh")
    # Position reports come every few seconds per unit; the resource row keeps the last one and
    # the audit trail one fix per unit per this many seconds (0: every fix).
    audit_every: float = Field(600.0, ge=0)


class Place(Strict):
    """A place the location text may name (a station, a hotel, a junction), with its coordinates."""

    name: str = Field(min_length=1, max_length=200)
    aliases: list[str] = Field(default_factory=list)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)

    @field_validator("name")
    @classmethod
    def _name_has_words(cls, v: str) -> str:
        if not re.findall(r"[0-9A-Za-z]", v):
            raise ValueError("a place name needs at least one letter or digit")
        return v

    @field_validator("aliases")
    @classmethod
    def _aliases_have_words(cls, v: list[str]) -> list[str]:
        if any(not re.findall(r"[0-9A-Za-z]", a) for a in v):
            raise ValueError("every alias needs at least one letter or digit")
        return v


class Gazetteer(Strict):
    places: list[Place] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> Gazetteer:
        seen: dict[str, str] = {}
        for place in self.places:
            for name in (place.name, *place.aliases):
                key = " ".join(re.findall(r"[0-9a-z]+", name.casefold()))
                if key in seen and seen[key] != place.name:
                    raise ValueError(f"{name!r} names both {seen[key]!r} and {place.name!r}")
                seen[key] = place.name
        return self
