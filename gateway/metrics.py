"""Prometheus metrics, in a registry owned by the daemon (no module-level state)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

KPI_WINDOW = 24 * 3600.0
NAN = float("nan")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.attempts = Counter(
            "callout_attempts_total",
            "Delivery attempts by channel and result",
            ["channel", "result"],
            registry=r,
        )
        self.fallbacks = Counter(
            "callout_fallbacks_total",
            "Moves to the next endpoint, by channel left",
            ["channel", "reason"],
            registry=r,
        )
        self.deliveries = Counter(
            "callout_deliveries_completed_total", "Deliveries completed by outcome", ["outcome"], registry=r
        )
        self.incidents = Counter(
            "callout_incidents_created_total", "Incidents created by source", ["source"], registry=r
        )
        self.send_seconds = Histogram(
            "callout_send_seconds", "Time a channel took to accept a message", ["channel"], registry=r
        )
        self.decision_seconds = Histogram(
            "callout_dispatch_decision_seconds",
            "Time from dispatch request to deliveries in the outbox",
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        )
        self.channel_up = Gauge("callout_channel_up", "1 up, 0.5 degraded, 0 down", ["channel"], registry=r)
        self.garbled = Counter(
            "callout_inbound_unmatched_total",
            "Inbound messages from the field that matched no delivery",
            ["channel"],
            registry=r,
        )
        self.record_failures = Counter(
            "callout_outcome_record_failures_total",
            "Batches of send outcomes the store refused (retried until recorded)",
            registry=r,
        )
        self.store_retries = Counter(
            "callout_store_retries_total",
            "Transactions tried again after a transient store error (deadlock, busy, lost connection)",
            registry=r,
        )
        self.handling_seconds = Histogram(
            "callout_call_handling_seconds",
            "Call handling time by desk",
            ["desk"],
            registry=r,
            buckets=(15, 30, 60, 120, 180, 300, 600, 1200),
        )
        self.handling_average = Gauge(
            "callout_call_handling_average_seconds",
            "Average handling time of answered calls, by desk",
            ["desk"],
            registry=r,
        )
        # The desk's KPIs over the trailing KPI_WINDOW, read from the store at each scrape
        # (gateway/services/desk_kpis.py): the same figures as GET /api/v1/kpis?hours=24, on every
        # node alike. NaN: no call in the window.
        self.kpi_handling = Gauge(
            "callout_kpi_handling_average_seconds",
            "Average handling time of the calls answered in the last 24 hours, all desks",
            registry=r,
        )
        self.kpi_desk_handling = Gauge(
            "callout_kpi_desk_handling_average_seconds",
            "Average handling time of the calls answered in the last 24 hours, by desk",
            ["desk"],
            registry=r,
        )
        self.kpi_fcr = Gauge(
            "callout_kpi_first_contact_resolution_ratio",
            "Share of the last 24 hours' decided call contacts resolved on the first call",
            registry=r,
        )
        self.kpi_desk_fcr = Gauge(
            "callout_kpi_desk_first_contact_resolution_ratio",
            "Share of the last 24 hours' decided call contacts resolved on the first call, by desk",
            ["desk"],
            registry=r,
        )
        self.kpi_contacts = Gauge(
            "callout_kpi_first_contacts",
            "Call contacts of the last 24 hours, by first-contact outcome",
            ["outcome"],
            registry=r,
        )
        self.calls = Counter(
            "callout_calls_total", "Calls ended, by outcome (answered, abandoned)", ["outcome"], registry=r
        )
        self.ws_clients = Gauge("callout_ws_clients", "Connected WebSocket clients", registry=r)

    def publish_desk_kpis(self, kpis: dict[str, Any]) -> None:
        """Set the KPI gauges from `desk_kpis` (a desk gone from the window is dropped)."""

        def value(x: float | None) -> float:
            return NAN if x is None else float(x)

        handling, fcr = kpis["handling"], kpis["first_contact"]
        self.kpi_handling.set(value(handling["overall"]["average_seconds"]))
        self.kpi_fcr.set(value(fcr["overall"]["rate"]))
        self.kpi_desk_handling.clear()
        for desk, v in handling["desks"].items():
            self.kpi_desk_handling.labels(desk).set(value(v["average_seconds"]))
        self.kpi_desk_fcr.clear()
        for desk, v in fcr["desks"].items():
            self.kpi_desk_fcr.labels(desk).set(value(v["rate"]))
        for name in ("resolved", "dispatched", "repeat", "open", "provisional"):
            self.kpi_contacts.labels(name).set(fcr["overall"][name])
