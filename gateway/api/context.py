"""Typed keys for what the API keeps on the application and on each request."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.api.auth import Identity, TokenTable
    from gateway.app import Gateway


@dataclass(frozen=True, slots=True)
class ApiState:
    """Everything a handler needs, built once per application (no module-level state)."""

    gw: Gateway
    tokens: TokenTable
    sockets: weakref.WeakSet[web.WebSocketResponse]


STATE: web.AppKey[ApiState] = web.AppKey("callout_api", ApiState)
_IDENTITY = "callout_identity"
_REQUEST_ID = "callout_request_id"


def state(request: web.Request) -> ApiState:
    return request.app[STATE]


def gateway(request: web.Request) -> Gateway:
    return request.app[STATE].gw


def set_identity(request: web.Request, identity: Identity) -> None:
    request[_IDENTITY] = identity


def identity(request: web.Request) -> Identity | None:
    found: Identity | None = request.get(_IDENTITY)
    return found


def set_request_id(request: web.Request, request_id: str) -> None:
    request[_REQUEST_ID] = request_id


def request_id(request: web.Request) -> str:
    return str(request.get(_REQUEST_ID, "-"))
