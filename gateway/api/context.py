"""Typed keys for what the API keeps on the application and on each request."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.api.personal_view import ViewAudit
    from gateway.api.throttle import FailureThrottle
    from gateway.api.tokens import TokenTable
    from gateway.app import Gateway


@dataclass(frozen=True, slots=True)
class ApiState:
    """Everything a handler needs, built once per application (no module-level state)."""

    gw: Gateway
    tokens: TokenTable
    throttle: FailureThrottle
    views: ViewAudit
    sockets: weakref.WeakSet[web.WebSocketResponse]


STATE: web.AppKey[ApiState] = web.AppKey("callout_api", ApiState)
REQUEST_ID_HEADER = "X-Request-Id"


def state(request: web.Request) -> ApiState:
    return request.app[STATE]


def gateway(request: web.Request) -> Gateway:
    return request.app[STATE].gw


def request_id(request: web.Request) -> str:
    """The id the errors middleware gave the request (it travels as a header, not request state)."""
    return request.headers.get(REQUEST_ID_HEADER, "-")
