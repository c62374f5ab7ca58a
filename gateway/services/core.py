"""The shared context of the services (passed by constructor, never global)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.clock import Clock
from gateway.directory import ResourceDirectory
from gateway.domain.models import Endpoint, Resource, Stakeholder
from gateway.engine import DeliveryEngine
from gateway.maintenance import MaintenanceCalendar
from gateway.metrics import Metrics
from gateway.schedules import Schedule, resolve_plan
from gateway.settings import Settings
from gateway.store import Store


@dataclass
class Core:
    settings: Settings
    store: Store
    engine: DeliveryEngine
    clock: Clock
    metrics: Metrics
    stakeholders: list[Stakeholder] = field(default_factory=list)
    # Every unit in memory, indexed for recommendations (kept right by the store's commits).
    directory: ResourceDirectory = field(default_factory=ResourceDirectory)
    # Planned works: channels that count as down, resources not to recommend (gateway/maintenance.py).
    maintenance: MaintenanceCalendar = field(default_factory=MaintenanceCalendar)
    # On-call schedules by id (gateway/schedules.py); contact plans may name one.
    schedules: dict[str, Schedule] = field(default_factory=dict)

    def resolve_plan(self, plan: list[Endpoint]) -> tuple[list[Endpoint], dict[str, str | None]]:
        """The plan with each schedule replaced by the contact plan of whoever is on call now."""
        people = {s.id: s.contact_plan for s in self.stakeholders}
        return resolve_plan(plan, self.schedules, people, self.clock.now())

    # (channel, address) -> resource id, for replies that arrive from the field.
    by_endpoint: dict[tuple[str, str], str] = field(default_factory=dict)
    # (channel, last digits of a phone number) -> resource ids, for numbers written differently.
    by_number: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def index_resources(self, resources: list[Resource]) -> None:
        self.directory.load(resources)
        self.by_endpoint = {(ep.channel, ep.address): r.id for r in resources for ep in r.contact_plan}
        self.by_number = {}
        for r in resources:
            for ep in r.contact_plan:
                key = number_key(ep.address)
                if key is not None:
                    self.by_number.setdefault((ep.channel, key), set()).add(r.id)

    def resource_at(self, channel: str, address: str) -> str | None:
        """The resource reached at this address. A phone number matches however it is written
        (+447700900001, 07700 900001) when its last digits identify exactly one resource."""
        exact = self.by_endpoint.get((channel, address))
        if exact is not None:
            return exact
        key = number_key(address)
        found = self.by_number.get((channel, key), set()) if key is not None else set()
        return next(iter(found)) if len(found) == 1 else None


_NUMBER_CHARS = re.compile(r"[\s\-().]")
SIGNIFICANT_DIGITS = 9  # a national significant number's tail: the same in +44 7700… and 07700…


def number_key(address: str) -> str | None:
    """The last digits of a phone number, or None when the address is not one (radio ids, callsigns)."""
    digits = _NUMBER_CHARS.sub("", address)
    if not re.fullmatch(r"\+?\d{8,15}", digits):
        return None
    return digits.lstrip("+")[-SIGNIFICANT_DIGITS:]
