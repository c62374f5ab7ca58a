"""The delivery engine: the outbox, fallback along contact plans, retries, deadlines."""

from gateway.engine.engine import DeliveryEngine

__all__ = ["DeliveryEngine"]
