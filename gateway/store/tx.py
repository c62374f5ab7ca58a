"""One transaction's queries and changes: the query groups of gateway/store/queries/ on one unit
of work, so call sites say `tx.get_incident(...)` whatever group a query lives in."""

from __future__ import annotations

from gateway.store.queries.answers import AnswerQueries
from gateway.store.queries.audit import AuditQueries
from gateway.store.queries.batches import Batch, BatchQueries
from gateway.store.queries.incidents import IncidentQueries
from gateway.store.queries.kpis import KpiQueries
from gateway.store.queries.leases import LeaseQueries
from gateway.store.queries.personal import PersonalQueries
from gateway.store.queries.resources import ResourceQueries
from gateway.store.queries.surveys import SurveyQueries

__all__ = ["Batch", "Tx"]


class Tx(
    AuditQueries,
    IncidentQueries,
    ResourceQueries,
    BatchQueries,
    KpiQueries,
    PersonalQueries,
    AnswerQueries,
    LeaseQueries,
    SurveyQueries,
):
    """Queries and changes inside one transaction (see gateway/store/unit_of_work.py)."""
