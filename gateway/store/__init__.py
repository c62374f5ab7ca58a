"""The durable store: incidents, resources, the delivery outbox and the append-only audit trail."""

from gateway.store.store import Store
from gateway.store.tx import Tx

__all__ = ["Store", "Tx"]
