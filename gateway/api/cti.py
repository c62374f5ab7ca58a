"""/api/v1/cti: call events from hosted contact-centre platforms, and answering at the desk.

Webhook authentication (no bearer token; the platform holds a shared secret, `cti.webhook_secret`):
`X-Callout-Timestamp: <POSIX seconds>` and `X-Callout-Signature: sha256=<hex>` where the hex is
HMAC-SHA256(secret, timestamp + "." + raw body). The timestamp must be a whole number of seconds
(digits only: `nan`, `inf` and fractions are refused, since `abs(now - nan) > window` is false and
would let a signed request through forever). A timestamp more than `cti.replay_window` seconds
from now is refused, and so is an event id seen before within that window (replay protection).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field

from adapters.cti import CallAnswered, CallEnded, CallOffered, CtiEvent
from gateway.api import context
from gateway.api.auth import Permission, require
from gateway.api.bodies import Body, Name, Number, Short
from gateway.api.errors import ApiError, ForbiddenError
from gateway.api.inputs import parse
from gateway.errors import Conflict, NotFound

TIMESTAMP_HEADER = "X-Callout-Timestamp"
SIGNATURE_HEADER = "X-Callout-Signature"
_POSIX_SECONDS = re.compile(r"^[0-9]{1,12}$")
MAX_POSIX_SECONDS = 2**33  # the year 2242: far enough for any real clock, finite for every check


class BadSignatureError(ApiError):
    status = 401
    error = "bad_signature"
    auth_failure = True


class CallEventBody(Body):
    id: Short
    type: Literal["offered", "answered", "ended"]
    call_id: Annotated[str, Field(min_length=1, max_length=200)]
    caller: Number | None = None
    caller_name: Name | None = None
    called: Annotated[str, Field(max_length=64)] | None = None
    desk: Short | None = None
    # POSIX seconds (finite: NaN and infinities are refused); default: when callout received it
    at: Annotated[float, Field(ge=0, le=MAX_POSIX_SECONDS)] | None = None
    answered: bool = True  # for "ended": False when nobody picked up
    reason: Annotated[str, Field(max_length=200)] = ""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _verify(secret: str, timestamp: str, given: str, body: bytes, *, now: float, window: float) -> None:
    if not _POSIX_SECONDS.match(timestamp):
        raise BadSignatureError(f"{TIMESTAMP_HEADER} must be POSIX seconds, a whole number")
    ts = int(timestamp)
    if abs(now - ts) > window:
        raise BadSignatureError(f"{TIMESTAMP_HEADER} is more than {window:g}s from now (stale or replayed)")
    if not hmac.compare_digest(signature(secret, timestamp, body).encode(), given.encode()):
        raise BadSignatureError(f"{SIGNATURE_HEADER} does not match the body")


def _event(body: CallEventBody, now: float) -> CtiEvent:
    at = body.at if body.at is not None else now
    kind: type[CallOffered] | type[CallAnswered] = CallOffered if body.type == "offered" else CallAnswered
    if body.type == "ended":
        return CallEnded(
            call_id=body.call_id,
            at=at,
            caller=body.caller,
            caller_name=body.caller_name,
            called=body.called,
            desk=body.desk,
            source="webhook",
            evidence={"event_id": body.id},
            answered=body.answered,
            reason=body.reason,
        )
    return kind(
        call_id=body.call_id,
        at=at,
        caller=body.caller,
        caller_name=body.caller_name,
        called=body.called,
        desk=body.desk,
        source="webhook",
        evidence={"event_id": body.id},
    )


async def call_events(request: web.Request) -> web.Response:
    gw = context.gateway(request)
    settings = gw.settings.cti
    if not settings.webhook_secret:
        raise ForbiddenError("CTI webhooks are off: set cti.webhook_secret to take them")
    raw = await request.read()
    now = gw.clock.now()
    _verify(
        settings.webhook_secret,
        request.headers.get(TIMESTAMP_HEADER, ""),
        request.headers.get(SIGNATURE_HEADER, ""),
        raw,
        now=now,
        window=settings.replay_window,
    )
    body = parse(CallEventBody, raw)
    if not gw.cti.first_sighting(body.id, now):
        raise Conflict(f"event {body.id!r} was already received")
    result = await gw.cti.handle(_event(body, now))
    return web.json_response(result, status=202)


async def answer(request: web.Request) -> web.Response:
    require(request, Permission.INCIDENT_WRITE)
    gw = context.gateway(request)
    call_id = request.match_info["call_id"]
    name = gw.cti.source_of(call_id)
    if name is None or name not in gw.cti_sources:
        raise NotFound("ringing call", call_id)
    await gw.cti_sources[name].answer(call_id)
    return web.json_response({"result": "answering", "call_id": call_id}, status=202)


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/cti/events", call_events, name="cti-events"),
        web.post("/api/v1/cti/calls/{call_id}/answer", answer, name="cti-answer"),
    ]
