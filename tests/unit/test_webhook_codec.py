"""The webhook codec (sans-I/O): request shape and the meaning of every kind of response."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.base import OutboundMessage
from adapters.webhook.codec import interpret, request_body, request_url

MSG = OutboundMessage(
    message_id="17",
    address="eng 1/\u03b1",
    parts=("1/2 hello ", "2/2 world"),
    incident_ref="INC-2026-000042",
    priority="P1",
    needs_ack=True,
)


def test_request_body_round_trips_every_field():
    doc = json.loads(request_body(MSG))
    assert doc == {
        "message_id": "17",
        "address": "eng 1/\u03b1",
        "text": "1/2 hello 2/2 world",
        "parts": ["1/2 hello ", "2/2 world"],
        "incident": "INC-2026-000042",
        "priority": "P1",
        "needs_ack": True,
        "purpose": "dispatch",
    }


def test_address_is_quoted_into_the_url():
    assert request_url("http://h/send/{address}", "eng 1/\u03b1") == "http://h/send/eng%201%2F%CE%B1"
    assert request_url("http://h/send", "x") == "http://h/send"


@pytest.mark.parametrize(
    ("status", "ok", "temporary"),
    [
        (200, True, False),
        (201, True, False),
        (204, True, False),
        (400, False, False),
        (401, False, False),
        (404, False, False),
        (410, False, False),
        (408, False, True),
        (425, False, True),
        (429, False, True),
        (500, False, True),
        (502, False, True),
        (503, False, True),
    ],
)
def test_status_codes(status, ok, temporary):
    out = interpret(status, b"")
    assert (out.ok, out.temporary) == (ok, temporary)
    assert str(status) in out.reason


def test_provider_id_becomes_the_channel_reference():
    assert interpret(200, b'{"id": "abc-1"}').channel_ref == "abc-1"
    assert interpret(200, b'{"id": 42}').channel_ref == "42"
    assert interpret(200, b'{"id": null}').channel_ref is None


def test_every_truncated_body_is_still_understood_by_status():
    body = b'{"id": "abc-1", "status": "queued"}'
    for n in range(len(body)):
        out = interpret(202, body[:n])
        assert out.ok and out.channel_ref is None


@given(st.integers(min_value=100, max_value=599), st.binary(max_size=200))
def test_garbage_never_raises(status, body):
    out = interpret(status, body)
    assert out.ok == (200 <= status < 300)
