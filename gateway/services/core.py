"""The shared context of the services (passed by constructor, never global)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.clock import Clock
from gateway.domain.models import Resource, Stakeholder
from gateway.engine import DeliveryEngine
from gateway.metrics import Metrics
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
    # (channel, address) -> resource id, for replies that arrive from the field.
    by_endpoint: dict[tuple[str, str], str] = field(default_factory=dict)

    def index_resources(self, resources: list[Resource]) -> None:
        self.by_endpoint = {(ep.channel, ep.address): r.id for r in resources for ep in r.contact_plan}
