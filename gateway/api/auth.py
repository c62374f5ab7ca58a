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

Viewers and engineers see caller numbers and names masked everywhere (`Identity.sees_personal`);
dispatchers and supervisors see them whole, and each read of a whole number is audited
(gateway/api/personal_view.py). Failed credentials are throttled per client address
(gateway/api/throttle.py); tokens are checked against their hashes (gateway/api/tokens.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from enum import StrEnum

from aiohttp import web

from gateway.api import context
from gateway.api.errors import ApiError, ForbiddenError, Handler, UnauthorizedError
from gateway.api.tokens import Identity, TokenTable
from gateway.settings import Role

__all__ = ["Identity", "Permission", "TokenTable", "auth_middleware", "require"]


class Permission(StrEnum):
    READ = "read"
    INCIDENT_WRITE = "incident.write"
    INCIDENT_SUPERVISE = "incident.supervise"
    UNIT_STATUS = "unit.status"
    PERSONAL_READ = "personal.read"  # caller numbers and names whole (each read audited)
    PRIVACY_ADMIN = "privacy.admin"  # subject-access exports and erasure


P = Permission
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    "viewer": frozenset({P.READ}),
    "dispatcher": frozenset({P.READ, P.INCIDENT_WRITE, P.UNIT_STATUS, P.PERSONAL_READ}),
    "supervisor": frozenset(
        {P.READ, P.INCIDENT_WRITE, P.INCIDENT_SUPERVISE, P.UNIT_STATUS, P.PERSONAL_READ, P.PRIVACY_ADMIN}
    ),
    "engineer": frozenset({P.READ, P.UNIT_STATUS}),
}
# Paths anyone may call: probes, the Prometheus scrape and the API description.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"})
# Routes that authenticate by other means (a channel's shared secret), not by bearer token.
SECRET_ROUTES = frozenset({"channel-inbound", "channel-callback", "cti-events"})
# The desk console's static files (gateway.console.ROUTE_NAMES): they carry no secrets; the page
# asks for a token and everything it then fetches needs one.
PUBLIC_ROUTES = frozenset({"console", "console-asset"})
# Routes that may take the token from `?token=` (browsers cannot set headers on a WebSocket).
QUERY_TOKEN_ROUTES = frozenset({"events"})


class TooManyFailuresError(ApiError):
    status = 429
    error = "too_many_failures"


def can(who: Identity, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[who.role]


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


async def _verify_off_loop(request: web.Request) -> None:
    """The middleware's check: an scrypt runs in a thread, never on the event loop; once it has
    verified, `authenticate` in the handler finds the token in the table's cache."""
    token = _presented_token(request)
    tokens = context.state(request).tokens
    if token and tokens.needs_hashing(token):
        await asyncio.to_thread(tokens.lookup, token)
    authenticate(request)


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Throttle addresses that keep failing, authenticate every request except the public ones,
    and count failed credentials; handlers then `require` a permission."""
    route = request.match_info.route.name
    if request.path in PUBLIC_PATHS or route in PUBLIC_ROUTES:
        return await handler(request)
    api = context.state(request)
    address = client_address(request)
    wait = api.throttle.retry_after(address, api.gw.clock.now())
    if wait:
        raise TooManyFailuresError(
            f"too many failed authentications from this address; try again in {wait}s",
            headers={"Retry-After": str(wait)},
        )
    try:
        if route not in SECRET_ROUTES:
            await _verify_off_loop(request)
        return await handler(request)
    except ApiError as exc:
        if exc.auth_failure:
            api.throttle.failed(address, api.gw.clock.now())
        raise


def require(request: web.Request, permission: Permission) -> Identity:
    """The caller's identity, if its role has the permission (403 otherwise).

    The token is looked up again rather than kept on the request: it is cheap (verified tokens
    are cached), and the request carries no state of ours.
    """
    who = authenticate(request)
    if not can(who, permission):
        raise ForbiddenError(
            f"role {who.role!r} may not do this", extra={"required": permission.value, "role": who.role}
        )
    return who
