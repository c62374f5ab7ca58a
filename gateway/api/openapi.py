"""GET /api/v1/openapi.json: the API described in OpenAPI 3.1, generated at start from the
pydantic models the routes validate with (gateway/api/bodies.py) and the response models
(gateway/api/views.py). Nothing here is a hand-kept copy of a schema: a field added to a body
model appears in the document. The operation table below names, per route, its body model, its
answer and who may call it; tests/api/test_openapi.py checks that it covers every route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from gateway.api import bodies, privacy, views
from gateway.api.callout import CalloutBody
from gateway.api.cti import CallEventBody
from gateway.api.maintenance import WindowBody
from gateway.api.practice import AnswersBody
from gateway.api.survey import SurveyBody, SurveyView

JSON = "application/json"
ERRORS = {
    "400": "malformed JSON, nesting deeper than 32 levels, NaN or infinities",
    "401": "no token, a wrong token, or a bad signature",
    "403": "the role may not do this",
    "404": "no such incident, resource, channel or call",
    "409": "valid, but clashes with the current state",
    "422": "a field breaks a rule (`fields` names each)",
    "429": "too many failed authentications from this address (`Retry-After`)",
}


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    name: str  # the aiohttp route name
    summary: str
    answer: type[BaseModel] | None = None  # None: a list of `item`
    item: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    status: int = 200
    auth: str = "bearer"  # or "none", "secret", "signature"
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    content: str = JSON


B, V = bodies, views
REF = "/api/v1/incidents/{ref}"
STATES = {"type": "string", "description": "comma-separated incident states, or all"}
OPS = [
    Op(
        "post",
        "/api/v1/incidents",
        "incident-create",
        "Create an incident",
        V.IncidentView,
        body=B.IncidentCreate,
        status=201,
    ),
    Op(
        "get",
        "/api/v1/incidents",
        "incident-list",
        "The incident queue",
        item=V.IncidentView,
        query={
            "state": STATES,
            "priority": {"type": "string"},
            "category": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 500},
            "offset": {"type": "integer", "minimum": 0},
        },
    ),
    Op("get", REF, "incident", "One incident with its timeline and deliveries", V.IncidentDetailView),
    Op("patch", REF, "incident-update", "Change an incident's fields", V.IncidentView, body=B.IncidentPatch),
    Op("post", f"{REF}/triage", "incident-triage", "Triage again", V.IncidentView, body=B.EmptyBody),
    Op(
        "post",
        f"{REF}/dispatch",
        "incident-dispatch",
        "Dispatch resources",
        V.DispatchView,
        body=B.DispatchBody,
        status=201,
    ),
    Op(
        "post",
        f"{REF}/acknowledge",
        "incident-acknowledge",
        "Acknowledge for a resource",
        V.DispatchView,
        body=B.AcknowledgeBody,
    ),
    Op("post", f"{REF}/resolve", "incident-resolve", "Resolve", V.IncidentView, body=B.NoteBody),
    Op("post", f"{REF}/cancel", "incident-cancel", "Cancel (supervisor)", V.IncidentView, body=B.NoteBody),
    Op("post", f"{REF}/close", "incident-close", "Close (supervisor)", V.IncidentView, body=B.CloseBody),
    Op(
        "get",
        f"{REF}/review",
        "incident-review",
        "Post-incident review",
        V.Anything,
        query={"format": {"type": "string", "enum": ["json", "markdown"]}},
    ),
    Op(
        "get",
        "/api/v1/callers/{number}/incidents",
        "caller-incidents",
        "Recent incidents from a number (personal.read)",
        item=V.IncidentView,
        query={"limit": {"type": "integer", "minimum": 1, "maximum": 50}},
    ),
    Op("get", "/api/v1/resources", "resource-list", "Field units", item=V.ResourceView),
    Op(
        "post",
        "/api/v1/resources/{id}/status",
        "resource-status-post",
        "Set a unit's status",
        V.ResourceView,
        body=B.UnitStatusBody,
    ),
    Op(
        "patch",
        "/api/v1/resources/{id}/status",
        "resource-status",
        "Set a unit's status",
        V.ResourceView,
        body=B.UnitStatusBody,
    ),
    Op("get", "/api/v1/channels", "channel-list", "Channel health", item=V.ChannelView),
    Op(
        "post",
        "/api/v1/channels/{name}/inbound",
        "channel-inbound",
        "Inbound traffic from an HTTP device (reply, ack, status, position, report)",
        V.Anything,
        body=B.InboundBody,
        auth="secret",
    ),
    Op(
        "post",
        "/api/v1/channels/{name}/callback",
        "channel-callback",
        "A provider's own callback format",
        V.Anything,
        auth="none",
    ),
    Op(
        "post",
        "/api/v1/cti/events",
        "cti-events",
        "Signed call events from a contact-centre platform",
        V.Anything,
        body=CallEventBody,
        status=202,
        auth="signature",
    ),
    Op(
        "post",
        "/api/v1/cti/calls/{call_id}/answer",
        "cti-answer",
        "Answer a ringing call",
        V.Anything,
        status=202,
    ),
    Op("get", "/api/v1/me", "me", "The token's name, role and permissions", V.MeView),
    Op(
        "get",
        "/api/v1/kpis",
        "kpis",
        "Response-time and channel KPIs",
        V.Anything,
        query={"hours": {"type": "integer", "minimum": 1, "maximum": 24 * 90}},
    ),
    Op("get", "/api/v1/triage", "triage-rules", "Priority matrix, rules and targets", V.Anything),
    Op(
        "post",
        "/api/v1/privacy/export",
        "privacy-export",
        "Subject access: every record about a number (supervisor)",
        V.ExportView,
        body=privacy.SubjectBody,
    ),
    Op(
        "post",
        "/api/v1/privacy/erase",
        "privacy-erase",
        "Erase the personal data about a number (supervisor)",
        V.ErasureView,
        body=privacy.ErasureBody,
    ),
    Op("get", "/healthz", "healthz", "Liveness", V.Anything, auth="none"),
    Op(
        "get",
        "/readyz",
        "readyz",
        "Readiness (503 when the store does not answer, or the node is fenced)",
        V.Anything,
        auth="none",
    ),
    Op("get", "/metrics", "metrics", "Prometheus metrics", auth="none", content="text/plain"),
    Op(
        "post",
        f"{REF}/callout",
        "incident-callout",
        "Bulk callout: page a capability, a list, a talkgroup or a stakeholder group at once",
        V.Anything,
        body=CalloutBody,
        status=201,
    ),
    Op("get", "/api/v1/maintenance", "maintenance-list", "Planned works", item=V.Anything),
    Op(
        "post",
        "/api/v1/maintenance",
        "maintenance-create",
        "Open a maintenance window (supervisor)",
        V.Anything,
        body=WindowBody,
        status=201,
    ),
    Op("delete", "/api/v1/maintenance/{id}", "maintenance-end", "End a maintenance window", V.Anything),
    Op("get", "/api/v1/schedules", "schedule-list", "Who is on call now and next", item=V.Anything),
    Op(
        "get",
        "/api/v1/schedules/{id}/on-call",
        "schedule-on-call",
        "Who is on call at a time",
        V.Anything,
        query={"at": {"type": "string", "description": "ISO 8601 time; default now"}},
    ),
    Op(
        "get",
        "/api/v1/schedules/{id}.ics",
        "schedule-ics",
        "The schedule as iCalendar",
        V.Anything,
        content="text/calendar",
    ),
    Op("get", f"{REF}/answers", "incident-answers", "Answers to scripted questions", V.Anything),
    Op(
        "post",
        f"{REF}/answers",
        "incident-answer",
        "Store answers; rules may raise impact or urgency",
        V.Anything,
        body=AnswersBody,
    ),
    Op(
        "get",
        "/api/v1/hazards",
        "hazards",
        "The hazards register, or the hazards at a location",
        V.Anything,
        query={"location": {"type": "string", "maxLength": 500}},
    ),
    Op("get", f"{REF}/hazards", "incident-hazards", "Hazards at the incident's location", V.Anything),
    Op("get", f"{REF}/duplicates", "incident-duplicates", "Possible duplicates", V.Anything),
    Op(
        "post",
        f"{REF}/merge",
        "incident-merge",
        "Merge this duplicate into another incident (409: itself, not open, a chain)",
        V.MergeView,
        body=B.MergeBody,
    ),
    Op("get", "/api/v1/cluster", "cluster", "Nodes, leases and the timers", V.Anything),
    Op("get", f"{REF}/survey", "incident-survey", "The caller's satisfaction survey", SurveyView),
    Op(
        "post",
        f"{REF}/survey",
        "incident-survey-consent",
        "Record the caller's consent to the SMS survey (or withdraw it)",
        SurveyView,
        body=SurveyBody,
    ),
]
# Routes the document leaves out, with the reason: the WebSocket is not an HTTP exchange.
UNDOCUMENTED = {
    "events": "WebSocket /api/v1/events",
    "openapi": "this document",
    "console": "",
    "console-asset": "",
}


class _Schemas:
    """components.schemas, filled from the models as operations name them."""

    def __init__(self) -> None:
        self.found: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, str]:
        schema = model.model_json_schema(mode=mode, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
        for name, sub in schema.pop("$defs", {}).items():
            self.found.setdefault(name, sub)
        self.found.setdefault(model.__name__, schema)
        return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(op: Op, schemas: _Schemas) -> dict[str, Any]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in re.findall(r"\{([^}:]+)[^}]*\}", op.path)
    ]
    params += [{"name": k, "in": "query", "required": False, "schema": v} for k, v in op.query.items()]
    if op.content == JSON:
        answer = (
            schemas.ref(op.answer, "serialization")
            if op.answer
            else {"type": "array", "items": schemas.ref(op.item, "serialization")}
            if op.item
            else {}
        )
        content: dict[str, Any] = {JSON: {"schema": answer}}
        if op.name == "incident-review":
            content["text/markdown"] = {"schema": {"type": "string"}}
    else:
        content = {op.content: {"schema": {"type": "string"}}}
    ok = {"description": "done", "content": content}
    error = {"content": {JSON: {"schema": schemas.ref(views.ErrorView, "serialization")}}}
    out: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.summary,
        "parameters": params,
        "responses": {
            str(op.status): ok,
            **{code: {"description": why, **error} for code, why in ERRORS.items()},
        },
    }
    if op.name == "readyz":
        out["responses"]["503"] = {
            "description": "the store does not answer",
            "content": {JSON: {"schema": {"type": "object"}}},
        }
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body is not bodies.EmptyBody,
            "content": {JSON: {"schema": schemas.ref(op.body, "validation")}},
        }
    elif op.name == "channel-callback":
        out["requestBody"] = {"required": False, "content": {JSON: {"schema": {}}}}
    out["security"] = [{"bearer": []}] if op.auth == "bearer" else []
    return out


def document() -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "callout dispatch gateway API",
            "version": "1",
            "description": "Incidents, dispatch, resources, channels and personal data. Live events: "
            "WebSocket /api/v1/events (`?token=`, `?since=<event id>`). See README.md and docs/privacy.md.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.found.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def routes() -> list[web.RouteDef]:
    doc = document()  # built once, at start

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(doc)

    return [web.get("/api/v1/openapi.json", openapi, name="openapi")]
