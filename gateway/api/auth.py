"""Bearer tokens, roles and what each role may do.

| permission           | viewer | dispatcher | supervisor | engineer |
|----------------------|:------:|:----------:|:----------:|:--------:|
| read                 |   x    |     x      |     x      |    x     |
| incident.write       |        |     x      |     x      |          |
| incident.supervise   |        |            |     x      |          |
| unit.status          |        |     x      |     x      |    x     |

`incident.write`: create, update, triage, dispatch, acknowledge, resolve.
`incident.supervise`: cancel, close, edit lessons. Inbound traffic from field devices
(`/api/v1/channels/{name}/inbound`) takes no token: a device holds only its channel's shared
secret, which that route checks, so a device can never read incidents or caller numbers.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from aiohttp import web

from gateway.api import context
from gateway.api.errors import ForbiddenError, Handler, UnauthorizedError
from gateway.settings import ApiToken, Role


class Permission(StrEnum):
    READ = "read"
    INCIDENT_WRITE = "incident.write"
    INCIDENT_SUPERVISE = "incident.supervise"
    UNIT_STATUS = "unit.status"


P = Permission
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    "viewer": frozenset({P.READ}),
    "dispatcher": frozenset({P.READ, P.INCIDENT_WRITE, P.UNIT_STATUS}),
    "supervisor": frozenset({P.READ, P.INCIDENT_WRITE, P.INCIDENT_SUPERVISE, P.UNIT_STATUS}),
    "engineer": frozenset({P.READ, P.UNIT_STATUS}),
}
# Paths anyone may call: probes and the Prometheus scrape.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Routes that authenticate by other means (a channel's shared secret), not by bearer token.
SECRET_ROUTES = frozenset({"channel-inbound", "channel-callback", "cti-events"})
# The desk console's static files (gateway.console.ROUTE_NAMES): they carry no secrets; the page
# asks for a token and everything it then fetches needs one.
PUBLIC_ROUTES = frozenset({"console", "console-asset"})
# Routes that may take the token from `?token=` (browsers cannot set headers on a WebSocket).
QUERY_TOKEN_ROUTES = frozenset({"events"})


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    role: Role

    @property
    def actor(self) -> str:
        return f"api:{self.name}"

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


class TokenTable:
    """Configured tokens. Every lookup compares against every token in constant time."""

    def __init__(self, tokens: Iterable[ApiToken]) -> None:
        self._entries = [(t.token.encode(), Identity(t.name, t.role)) for t in tokens]

    def lookup(self, presented: str) -> Identity | None:
        given = presented.encode()
        found: Identity | None = None
        for secret, who in self._entries:
            if hmac.compare_digest(secret, given) and found is None:
                found = who
        return found


def _presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise UnauthorizedError("the Authorization header must be 'Bearer <token>'", invalid=True)
        return value.strip()
    if request.match_info.route.name in QUERY_TOKEN_ROUTES:
        return request.query.get("token")
    return None


def authenticate(request: web.Request) -> Identity:
    token = _presented_token(request)
    if not token:
        raise UnauthorizedError("a bearer token is required", invalid=False)
    who = context.state(request).tokens.lookup(token)
    if who is None:
        raise UnauthorizedError("the token is not valid", invalid=True)
    return who


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate every request except the public probes; handlers then `require` a permission."""
    route = request.match_info.route.name
    if request.path not in PUBLIC_PATHS and route not in SECRET_ROUTES | PUBLIC_ROUTES:
        authenticate(request)
    return await handler(request)


def require(request: web.Request, permission: Permission) -> Identity:
    """The caller's identity, if its role has the permission (403 otherwise).

    The token is looked up again rather than kept on the request: it is cheap, and the request
    carries no state of ours.
    """
    who = authenticate(request)
    if not who.can(permission):
        raise ForbiddenError(
            f"role {who.role!r} may not do this", extra={"required": permission.value, "role": who.role}
        )
    return who
