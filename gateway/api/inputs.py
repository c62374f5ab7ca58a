"""Reading request bodies and query strings: every check happens here, before a service runs.

Bodies are pydantic models in strict JSON mode with unknown fields forbidden; their errors become
`ValidationFailed` naming each field, so the client sees the same 422 shape as a domain rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.api.errors import MalformedBodyError
from gateway.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic errors as {field: reason}; list positions are named in the reason."""
    out: dict[str, str] = {}
    for err in exc.errors():
        loc = err["loc"]
        key = str(loc[0]) if loc else "body"
        items = [f"item {p}" for p in loc[1:] if isinstance(p, int)]
        if err["type"] == "extra_forbidden":
            reason = "unknown field"
        elif err["type"] == "missing":
            reason = "required"
        else:
            reason = str(err["msg"]).removeprefix("Value error, ")
        reason = f"{items[0]}: {reason}" if items else reason
        if key in out and reason not in out[key]:
            out[key] = f"{out[key]}; {reason}"
        else:
            out.setdefault(key, reason)
    return out


async def read_body(request: web.Request, model: type[M], *, empty_ok: bool = False) -> M:
    """Parse and validate the JSON body. Malformed JSON is 400; a body that breaks the model, 422."""
    raw = await request.read()
    if not raw.strip():
        if not empty_ok:
            raise MalformedBodyError("a JSON object is required")
        raw = b"{}"
    try:  # parsed once here only to tell malformed JSON (400) from a wrong shape (422)
        json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBodyError(f"the body is not valid JSON: {exc}") from None
    return parse(model, raw)


def parse(model: type[M], raw: bytes | str) -> M:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from None


def query_list(request: web.Request, name: str, allowed: Iterable[str] | None = None) -> list[str]:
    """A comma-separated query parameter (it may also repeat), checked against `allowed`."""
    values = [v.strip() for raw in request.query.getall(name, []) for v in raw.split(",") if v.strip()]
    if allowed is not None:
        known = set(allowed)
        bad = [v for v in values if v not in known]
        if bad:
            raise ValidationFailed({name: f"unknown value {bad[0]!r}; one of {', '.join(sorted(known))}"})
    return values


def query_int(request: web.Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed({name: "must be a whole number"}) from None
    if not low <= value <= high:
        raise ValidationFailed({name: f"must be from {low} to {high}"})
    return value


def query_choice(request: web.Request, name: str, choices: Iterable[str], default: str) -> str:
    value = request.query.get(name, default)
    options = list(choices)
    if value not in options:
        raise ValidationFailed({name: f"must be one of {', '.join(options)}"})
    return value
