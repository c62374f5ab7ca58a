"""Every failure becomes a JSON response; nothing leaks a traceback to the client.

Domain errors map to statuses here, in one table; the API's own errors carry their status.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from gateway.api import context
from gateway.domain.personal import redact_text
from gateway.errors import CalloutError, Conflict, IllegalTransition, NotFound, ValidationFailed
from gateway.store.transient import StoreBusy, is_transient

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(CalloutError):
    """A request the API refuses before (or instead of) calling a service."""

    status = 400
    error = "bad_request"
    auth_failure = False  # a wrong credential: counted against the client's address (throttle.py)

    def __init__(
        self,
        message: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, **self.extra}


class MalformedBodyError(ApiError):
    status = 400
    error = "malformed_json"


class UnauthorizedError(ApiError):
    status = 401
    error = "unauthorized"

    def __init__(self, message: str, *, invalid: bool) -> None:
        challenge = 'Bearer realm="callout"' + (', error="invalid_token"' if invalid else "")
        super().__init__(message, headers={"WWW-Authenticate": challenge})
        self.auth_failure = invalid


class ForbiddenError(ApiError):
    status = 403
    error = "forbidden"


class WrongSecretError(ForbiddenError):
    """A channel's inbound shared secret was missing or wrong."""

    auth_failure = True


def json_error(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=dict(headers or {}))


def to_response(exc: Exception) -> web.Response | None:
    """The response for an error the API expects, or None for one it does not."""
    if isinstance(exc, ApiError):
        return json_error(exc.status, exc.body(), exc.headers)
    store_away = not isinstance(exc, CalloutError) and is_transient(exc)  # e.g. during a read
    if isinstance(exc, StoreBusy) or store_away:  # the store is away: come back shortly
        return json_error(
            503,
            {"error": "store_busy", "message": "the store is busy; try again", "retry_after": 1},
            {"Retry-After": str(max(1, round(getattr(exc, "retry_after", 1.0))))},
        )
    if isinstance(exc, ValidationFailed):
        return json_error(422, {"error": "validation", "message": "invalid input", "fields": exc.fields})
    if isinstance(exc, NotFound):
        return json_error(404, {"error": "not_found", "message": str(exc), "what": exc.what, "key": exc.key})
    if isinstance(exc, IllegalTransition):
        return json_error(
            409,
            {
                "error": "illegal_transition",
                "message": str(exc),
                "entity": exc.entity,
                "key": exc.key,
                "from": str(exc.current),
                "to": str(exc.target),
            },
        )
    if isinstance(exc, Conflict):
        reason = getattr(exc, "reason", None)  # a slug, for refusals that say why (a merge's)
        return json_error(
            409, {"error": "conflict", "message": str(exc), **({"reason": reason} if reason else {})}
        )
    if isinstance(exc, web.HTTPException) and exc.status >= 400:
        slug = (exc.reason or "error").lower().replace(" ", "_")
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return json_error(exc.status, {"error": slug, "message": exc.reason}, headers)
    return None


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.headers.get(context.REQUEST_ID_HEADER, "")[:64]
    if not request_id:
        request_id = secrets.token_hex(6)
        headers = CIMultiDict(request.headers)
        headers[context.REQUEST_ID_HEADER] = request_id
        request = request.clone(headers=headers)
    try:
        response = await handler(request)
    except Exception as exc:
        known = to_response(exc)
        if known is None:
            if isinstance(exc, web.HTTPException):  # a redirect or other non-error status
                raise
            _log_unexpected(request, request_id, exc)
            known = json_error(
                500,
                {
                    "error": "internal",
                    "message": "internal error; see the server log",
                    "request_id": request_id,
                },
            )
        response = known
    if not response.prepared:
        response.headers[context.REQUEST_ID_HEADER] = request_id
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _log_unexpected(request: web.Request, request_id: str, exc: Exception) -> None:
    # The message may quote personal data (a caller number in a SQL parameter): redact it, and
    # print the stack as file:line frames without the message or source lines.
    route = request.match_info.route.resource
    where = route.canonical if route is not None else "?"
    frames = traceback.extract_tb(exc.__traceback__)
    stack = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in frames)
    log.error(
        "request %s: %s %s failed: %s: %s\n%s",
        request_id,
        request.method,
        where,
        type(exc).__name__,
        redact_text(str(exc)),
        stack,
    )
