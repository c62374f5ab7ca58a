"""The measured bad inputs of issue 15, each a regression test: deep nesting, NaN and infinite
numbers, NaN timestamps on the CTI webhook, missing nosniff/no-store; and failed credentials
throttled per client address (429 with Retry-After)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.api.cti import signature
from gateway.api.inputs import MAX_DEPTH, nesting_depth
from tests.api.conftest import HOOK_SECRET, TOKENS, Api, make_settings, running_api

SECRET = "cti-webhook-secret-0123456789"


@pytest.fixture
async def hard_api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = make_settings(tmp_path)
    settings.cti.webhook_secret = SECRET
    settings.api.auth_failures_per_minute = 5
    async with running_api(settings, run=False) as a:
        yield a


def test_nesting_depth_counts_without_recursion_and_skips_strings() -> None:
    assert nesting_depth(b"[" * 100_000) == 100_000
    assert nesting_depth(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') == 1
    assert nesting_depth(b'[{"a": [1, {"b": []}]}]') == 5
    assert nesting_depth(b'["\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]') == 1


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 100_000])
async def test_deeply_nested_json_is_400_not_500(hard_api: Api, depth: int) -> None:
    body = "[" * depth + "]" * depth
    for path in ("/api/v1/incidents", "/api/v1/incidents/INC-2026-000001/dispatch"):
        r = await hard_api.call("POST", path, data=body, headers={"Content-Type": "application/json"})
        assert r.status == 400, (path, r.body)
        assert r.body["error"] == "malformed_json"
        assert "deeper than 32" in r.body["message"]
    r = await hard_api.call(
        "POST",
        "/api/v1/channels/hook/inbound",
        role=None,
        data=body,
        headers={"X-Callout-Secret": HOOK_SECRET},
    )
    assert r.status == 400


async def test_nesting_at_the_limit_is_still_parsed(hard_api: Api) -> None:
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    r = await hard_api.call("POST", "/api/v1/incidents", data=f'{{"nature": {nested}}}')
    assert r.status == 422  # the right depth reaches the model, which refuses a list for a text


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_nan_and_infinities_are_refused(hard_api: Api, number: str) -> None:
    r = await hard_api.call("POST", "/api/v1/incidents", data=f'{{"nature": "x", "impact": {number}}}')
    assert r.status == 400, r.body
    assert r.body["error"] == "malformed_json"


def _signed(body: bytes, stamp: str) -> dict[str, str]:
    return {
        "X-Callout-Timestamp": stamp,
        "X-Callout-Signature": signature(SECRET, stamp, body),
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize(
    "stamp", ["nan", "NaN", "inf", "-inf", "1e9", "1700000000.5", "", " 17", "+1700000000"]
)
async def test_cti_timestamp_must_be_whole_seconds_even_when_signed(hard_api: Api, stamp: str) -> None:
    body = json.dumps({"id": "e1", "type": "offered", "call_id": "c1"}).encode()
    r = await hard_api.call("POST", "/api/v1/cti/events", role=None, data=body, headers=_signed(body, stamp))
    assert r.status == 401, r.body
    assert r.body["error"] == "bad_signature"


async def test_cti_event_time_must_be_finite(hard_api: Api) -> None:
    stamp = str(int(time.time()))
    for at in ("1e999", "NaN"):
        body = f'{{"id": "e-{at}", "type": "offered", "call_id": "c1", "at": {at}}}'.encode()
        r = await hard_api.call(
            "POST", "/api/v1/cti/events", role=None, data=body, headers=_signed(body, stamp)
        )
        assert r.status == 400, r.body
    body = b'{"id": "e-big", "type": "offered", "call_id": "c1", "at": 99999999999999}'
    r = await hard_api.call("POST", "/api/v1/cti/events", role=None, data=body, headers=_signed(body, stamp))
    assert r.status == 422 and "at" in r.body["fields"]


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/api/v1/incidents", "viewer"),
        ("/api/v1/incidents", None),
        ("/api/v1/nothing", "viewer"),
        ("/healthz", None),
    ],
)
async def test_every_api_answer_is_nosniff_and_no_store(hard_api: Api, path: str, role: str | None) -> None:
    r = await hard_api.call("GET", path, role=role)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"


async def test_console_files_keep_revalidation_and_nosniff(hard_api: Api) -> None:
    r = await hard_api.call("GET", "/", role=None)
    assert (r.headers["Cache-Control"], r.headers["X-Content-Type-Options"]) == ("no-cache", "nosniff")


async def test_wrong_tokens_are_throttled_with_retry_after(hard_api: Api) -> None:
    wrong = {"Authorization": "Bearer wrong-token-000000000000"}
    statuses = [
        (await hard_api.call("GET", "/api/v1/incidents", role=None, headers=wrong)).status for _ in range(8)
    ]
    assert statuses == [401] * 5 + [429] * 3
    r = await hard_api.call("GET", "/api/v1/incidents", role="dispatcher")  # a good token is held too
    assert r.status == 429
    assert r.body["error"] == "too_many_failures"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    # Probes and the console stay open.
    assert (await hard_api.call("GET", "/healthz", role=None)).status == 200


async def test_a_missing_token_is_not_a_failed_guess(hard_api: Api) -> None:
    for _ in range(8):
        assert (await hard_api.call("GET", "/api/v1/incidents", role=None)).status == 401
    assert (await hard_api.call("GET", "/api/v1/incidents", role="viewer")).status == 200


async def test_wrong_channel_secrets_and_cti_signatures_are_throttled(hard_api: Api) -> None:
    reply = {"type": "reply", "address": "R1", "text": "ACK"}
    for _ in range(3):
        r = await hard_api.call(
            "POST",
            "/api/v1/channels/hook/inbound",
            role=None,
            json=reply,
            headers={"X-Callout-Secret": "nope"},
        )
        assert r.status == 403
    body = b'{"id": "e9", "type": "offered", "call_id": "c9"}'
    bad = {**_signed(body, str(int(time.time()))), "X-Callout-Signature": "sha256=" + "0" * 64}
    for _ in range(2):
        r = await hard_api.call("POST", "/api/v1/cti/events", role=None, data=body, headers=bad)
        assert r.status == 401
    r = await hard_api.call(
        "POST", "/api/v1/cti/events", role=None, data=body, headers=_signed(body, str(int(time.time())))
    )
    assert r.status == 429 and "Retry-After" in r.headers
    assert TOKENS  # the role tokens exist but are held as well while throttled
