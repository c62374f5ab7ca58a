"""/api/v1/channels: channel health, and inbound traffic from devices that call back over HTTP."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from adapters.base import (
    ChannelEvent,
    DeliveryReport,
    InboundText,
    PositionReport,
    RadioAck,
    UnitStatusReport,
)
from gateway.api import context, serialize
from gateway.api.auth import Permission, client_address, require
from gateway.api.bodies import (
    INBOUND,
    Body,
    InboundAck,
    InboundPosition,
    InboundReply,
    InboundReport,
    InboundStatus,
)
from gateway.api.errors import ForbiddenError, MalformedBodyError, WrongSecretError
from gateway.api.inputs import MAX_DEPTH, load_json, parse, too_deep
from gateway.errors import CalloutError, NotFound, ValidationFailed
from gateway.settings import Settings

SECRET_HEADER = "X-Callout-Secret"  # noqa: S105 (a header name, not a secret)


async def list_channels(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    gw = context.gateway(request)
    return web.json_response([serialize.channel(ch) for ch in gw.channels.values()])


def inbound_secret(settings: Settings, name: str) -> str:
    """The channel's configured shared secret for inbound calls ("" when it has none)."""
    for cfg in settings.channels:
        if cfg.name == name:
            secret = cfg.options.get("inbound_secret", "")
            return secret if isinstance(secret, str) else ""
    return ""


def _event(body: Body, via: dict[str, Any]) -> ChannelEvent:
    if isinstance(body, InboundReply):
        return InboundText(address=body.address, text=body.text, evidence=via)
    if isinstance(body, InboundAck):
        return RadioAck(address=body.address, message_id=body.message_id, evidence=via)
    if isinstance(body, InboundStatus):
        return UnitStatusReport(address=body.address, status=body.status.value, evidence=via)
    if isinstance(body, InboundPosition):
        return PositionReport(
            address=body.address, lat=body.lat, lon=body.lon, observed_at=body.observed_at, evidence=via
        )
    assert isinstance(body, InboundReport)
    return DeliveryReport(
        channel_ref=body.channel_ref, delivered=body.delivered, reason=body.reason, evidence=via
    )


async def _read_event(request: web.Request, via: dict[str, Any]) -> ChannelEvent:
    raw = await request.read()
    data = load_json(raw)
    if not isinstance(data, dict):
        raise ValidationFailed({"body": "must be a JSON object"})
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in INBOUND:
        raise ValidationFailed({"type": f"must be one of {', '.join(sorted(INBOUND))}"})
    return _event(parse(INBOUND[kind], raw), via)


async def inbound(request: web.Request) -> web.Response:
    gw = context.gateway(request)
    name = request.match_info["name"]
    if name not in gw.channels:
        raise NotFound("channel", name)
    secret = inbound_secret(gw.settings, name)
    given = request.headers.get(SECRET_HEADER, "")
    if not secret:
        raise ForbiddenError(f"channel {name!r} has no inbound secret configured")
    if not hmac.compare_digest(secret.encode(), given.encode()):
        raise WrongSecretError(
            f"channel {name!r} takes inbound calls only with its shared secret in {SECRET_HEADER}"
        )
    event = await _read_event(request, {"via": "http"})
    result = await gw.field.handle(name, event)
    return web.json_response({"result": result})


async def callback(request: web.Request) -> web.Response:
    """A provider's own callback format (e.g. `sms_http` receipts and replies). The channel checks
    the provider's signature itself, so this route takes no token and no X-Callout-Secret."""
    gw = context.gateway(request)
    name = request.match_info["name"]
    channel = gw.channels.get(name)
    accept = getattr(channel, "accept_callback", None)
    if channel is None or not callable(accept):
        raise NotFound("channel taking callbacks", name)
    body = await request.read()
    if too_deep(body):  # a recursion bomb never reaches the provider's parser
        raise MalformedBodyError(f"the body nests arrays and objects deeper than {MAX_DEPTH} levels")
    try:
        count = accept(request.headers, body)
    except CalloutError as exc:
        status = getattr(exc, "http_status", 400)
        if status in (401, 403):  # the provider's signature did not verify: a failed credential
            api = context.state(request)
            api.throttle.failed(client_address(request), gw.clock.now())
        return web.json_response({"error": "callback_rejected", "message": str(exc)}, status=status)
    return web.json_response({"events": count})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/channels", list_channels, name="channel-list"),
        web.post("/api/v1/channels/{name}/inbound", inbound, name="channel-inbound"),
        web.post("/api/v1/channels/{name}/callback", callback, name="channel-callback"),
    ]
