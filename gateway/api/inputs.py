"""Reading request bodies and query strings: every check happens here, before a service runs.

Bodies are pydantic models in strict JSON mode with unknown fields forbidden; their errors become
`ValidationFailed` naming each field, so the client sees the same 422 shape as a domain rule.
Before a model sees a body, `load_json` refuses (400) what no model should have to parse: JSON
nested deeper than `MAX_DEPTH` (a recursion bomb), and the non-standard constants `NaN`,
`Infinity` and `-Infinity` (RFC 8259 §6 has no such numbers; see docs/privacy.md, input limits).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.api.errors import MalformedBodyError
from gateway.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)
MAX_DEPTH = 32
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def nesting_depth(raw: bytes, *, stop_above: int | None = None) -> int:
    """How deep arrays and objects nest in a JSON text, counted without recursion (strings,
    which may hold brackets, are skipped). With `stop_above`, stops counting once deeper."""
    depth = deepest = 0
    for bracket in _BRACKETS.finditer(_STRINGS.sub(b'""', raw)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if stop_above is not None and deepest > stop_above:
                break
        else:
            depth -= 1
    return deepest


def too_deep(raw: bytes) -> bool:
    """True when `raw` nests deeper than MAX_DEPTH; a body with few brackets is passed at once."""
    return (
        raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and nesting_depth(raw, stop_above=MAX_DEPTH) > MAX_DEPTH
    )


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999 parses as infinity
        raise ValueError(f"{text} is too large for a number")
    return value


def load_json(raw: bytes | str) -> Any:
    """Parse a JSON body, refusing (400) malformed JSON, nesting deeper than MAX_DEPTH and NaN or
    infinities. Never raises anything but MalformedBodyError."""
    data = raw.encode() if isinstance(raw, str) else raw
    if too_deep(data):
        raise MalformedBodyError(f"the body nests arrays and objects deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(data, parse_constant=_no_constants, parse_float=_finite)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedBodyError(f"the body is not valid JSON: {exc}") from None


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
    return parse(model, raw)


def parse(model: type[M], raw: bytes | str) -> M:
    """Validate a JSON body against a model: 400 for what `load_json` refuses, 422 for a body of
    the wrong shape."""
    load_json(raw)  # parsed once here only to tell malformed JSON (400) from a wrong shape (422)
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
