"""The sms_http codec (sans-I/O): request body, response mapping, callback signature and body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.base import DeliveryReport, InboundText, OutboundMessage
from adapters.sms_http.codec import (
    MISSING,
    BadSignature,
    CallbackRejected,
    MalformedCallback,
    StaleCallback,
    interpret,
    lookup,
    parse_callback,
    request_body,
    request_headers,
)
from adapters.sms_http.options import Options

NOW = 1_790_000_000.0
SECRET = "s3cret"


def opts(**kw) -> Options:
    return Options(url="http://provider/messages", signature_secret=SECRET, **kw)


def msg(text: str = "INC-1 P1 fire", address: str = "+447700900001") -> OutboundMessage:
    return OutboundMessage(
        message_id="42", address=address, parts=(text,), incident_ref="INC-1", priority="P1", needs_ack=True
    )


def signed(body: bytes, *, stamp: float | None = NOW, secret: str = SECRET, prefix_ts: bool = False) -> dict:
    payload = (f"{stamp:.0f}".encode() + b"." + body) if prefix_ts else body
    headers = {"X-Signature": hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()}
    if stamp is not None:
        headers["X-Timestamp"] = f"{stamp:.0f}"
    return headers


# ---- requests -------------------------------------------------------------------------------------
def test_default_body_and_auth_header():
    o = opts(auth_value="Bearer tok")
    assert json.loads(request_body(o, msg())) == {
        "to": "+447700900001",
        "text": "INC-1 P1 fire",
        "reference": "42",
    }
    assert request_headers(o) == {"Content-Type": "application/json", "Authorization": "Bearer tok"}
    assert "Authorization" not in request_headers(opts())


def test_template_fills_nested_values_once_and_keeps_json_safe():
    o = opts(
        sender="CALLOUT",
        auth_header="X-Api-Key",
        auth_value="k",
        body_template={
            "messages": [{"destinations": [{"to": "{to}"}], "from": "{from}", "text": "{text}"}],
            "note": "ref {id} for {to}",
            "flash": False,
            "validity": 60,
        },
    )
    text = 'quote " brace {id} {to} ü'
    doc = json.loads(request_body(o, msg(text)))
    assert doc == {
        "messages": [{"destinations": [{"to": "+447700900001"}], "from": "CALLOUT", "text": text}],
        "note": "ref 42 for +447700900001",
        "flash": False,
        "validity": 60,
    }
    assert request_headers(o)["X-Api-Key"] == "k"


# ---- responses ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "body", "ok", "temporary", "ref"),
    [
        (200, b'{"id": "sms-1", "status": "queued"}', True, False, "sms-1"),
        (201, b'{"id": 981}', True, False, "981"),
        (200, b'{"status": "queued"}', False, False, None),  # accepted but no id: cannot match receipts
        (200, b"not json", False, False, None),
        (400, b'{"error": "invalid destination number"}', False, False, None),
        (401, b"", False, False, None),
        (408, b"", False, True, None),
        (429, b'{"error": "too many requests"}', False, True, None),
        (500, b"oops", False, True, None),
        (503, b"", False, True, None),
    ],
)
def test_response_mapping(status, body, ok, temporary, ref):
    out = interpret(opts(), status, body)
    assert (out.ok, out.temporary, out.provider_id) == (ok, temporary, ref)
    assert f"HTTP {status}" in out.reason


def test_error_detail_retry_after_nested_id_and_status_path():
    out = interpret(opts(), 429, b'{"error": "slow down"}', retry_after="2")
    assert (out.reason, out.retry_after) == ("HTTP 429: slow down", 2.0)
    o = opts(id_path="messages.0.id", response_status_path="messages.0.status")
    out = interpret(o, 200, b'{"messages": [{"id": "m-9", "status": "ACCEPTED"}]}')
    assert (out.ok, out.provider_id, out.delivered) == (True, "m-9", False)
    out = interpret(o, 200, b'{"messages": [{"id": "m-9", "status": "rejected"}]}')
    assert (out.ok, out.temporary, out.provider_id) == (False, False, "m-9")
    out = interpret(o, 200, b'{"messages": [{"id": "m-9", "status": "delivered"}]}')
    assert out.delivered is True


def test_lookup_paths():
    doc = {"a": [{"b": 1}, {"b": 2}], "c": {"d": "x"}}
    assert lookup(doc, "a.1.b") == 2
    assert lookup(doc, "a.-1.b") == 2
    assert lookup(doc, "c.d") == "x"
    for missing in ("a.2.b", "c.e", "a.x", "z"):
        assert lookup(doc, missing) is MISSING


# ---- callbacks: signature -------------------------------------------------------------------------
RECEIPT = json.dumps({"type": "receipt", "id": "sms-1", "status": "delivered"}).encode()


def test_good_signature_gives_a_delivery_report():
    events = parse_callback(opts(), signed(RECEIPT), RECEIPT, NOW)
    assert events == [DeliveryReport("sms-1", delivered=True, evidence={"provider_status": "delivered"})]


def test_header_names_are_case_insensitive_and_hex_case_does_not_matter():
    headers = {k.lower(): v.upper() for k, v in signed(RECEIPT).items()}
    assert len(parse_callback(opts(), headers, RECEIPT, NOW)) == 1


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b.replace(b"delivered", b"failed!!!")),  # body changed after signing
        lambda h, b: ({**h, "X-Signature": signed(b, secret="other")["X-Signature"]}, b),  # wrong key
        lambda h, b: ({k: v for k, v in h.items() if k != "X-Signature"}, b),  # no signature
        lambda h, b: ({**h, "X-Signature": h["X-Signature"][:-2]}, b),  # cut short
        lambda h, b: ({**h, "X-Signature": "zz" + h["X-Signature"][2:]}, b),
        lambda h, b: ({**h, "X-Signature": "é" * 64}, b),  # not even hex
    ],
)
def test_bad_signatures_are_rejected(tamper):
    headers, body = tamper(signed(RECEIPT), RECEIPT)
    with pytest.raises(BadSignature) as err:
        parse_callback(opts(), headers, body, NOW)
    assert err.value.http_status == 401


def test_no_secret_configured_refuses_every_callback():
    o = Options(url="http://provider/messages")
    with pytest.raises(BadSignature, match="no signature_secret"):
        parse_callback(o, signed(RECEIPT), RECEIPT, NOW)


@pytest.mark.parametrize(("skew", "ok"), [(0, True), (299, True), (-299, True), (301, False), (-301, False)])
def test_stale_or_future_timestamps_are_rejected(skew, ok):
    headers = signed(RECEIPT, stamp=NOW - skew)
    if ok:
        assert len(parse_callback(opts(), headers, RECEIPT, NOW)) == 1
    else:
        with pytest.raises(StaleCallback):
            parse_callback(opts(), headers, RECEIPT, NOW)


def test_unreadable_timestamp_and_provider_without_timestamps():
    with pytest.raises(StaleCallback):
        parse_callback(opts(), {**signed(RECEIPT), "X-Timestamp": "yesterday"}, RECEIPT, NOW)
    with pytest.raises(StaleCallback):
        parse_callback(opts(), {**signed(RECEIPT), "X-Timestamp": "nan"}, RECEIPT, NOW)
    # A provider that sends no timestamp: only the signature counts.
    assert len(parse_callback(opts(), signed(RECEIPT, stamp=None), RECEIPT, NOW)) == 1


def test_signed_timestamp_mode_prefix_and_base64():
    o = opts(signed_payload="timestamp.body")
    assert len(parse_callback(o, signed(RECEIPT, prefix_ts=True), RECEIPT, NOW)) == 1
    with pytest.raises(BadSignature):  # the timestamp is part of what is signed: changing it breaks it
        parse_callback(o, {**signed(RECEIPT, prefix_ts=True), "X-Timestamp": f"{NOW + 1:.0f}"}, RECEIPT, NOW)
    with pytest.raises(StaleCallback):
        parse_callback(o, signed(RECEIPT, stamp=None), RECEIPT, NOW)
    digest = hmac.new(SECRET.encode(), RECEIPT, hashlib.sha256).digest()
    o = opts(signature_encoding="base64", signature_prefix="sha256=", signature_header="X-Hub-Signature")
    headers = {"X-Hub-Signature": "sha256=" + base64.b64encode(digest).decode()}
    assert len(parse_callback(o, headers, RECEIPT, NOW)) == 1
    with pytest.raises(BadSignature):
        parse_callback(o, {"X-Hub-Signature": base64.b64encode(digest).decode()}, RECEIPT, NOW)


# ---- callbacks: body mapping ----------------------------------------------------------------------
def call(body_doc, o: Options | None = None):
    body = json.dumps(body_doc).encode()
    return parse_callback(o or opts(), signed(body), body, NOW)


def test_receipt_statuses_map_to_delivered_failed_or_nothing():
    events = call(
        [
            {"id": "a", "status": "DELIVERED"},
            {"id": "b", "status": "undelivered", "error": "absent subscriber"},
            {"id": "c", "status": "expired"},
            {"id": "d", "status": "queued"},  # pending: no event
            {"id": "e", "status": "something-new"},  # unknown: no event
            {"type": "inbound", "id": "in-1", "from": "+447700900001", "text": "ACK"},
        ]
    )
    assert events == [
        DeliveryReport("a", delivered=True, evidence={"provider_status": "DELIVERED"}),
        DeliveryReport(
            "b", delivered=False, reason="absent subscriber", evidence={"provider_status": "undelivered"}
        ),
        DeliveryReport("c", delivered=False, reason="expired", evidence={"provider_status": "expired"}),
        InboundText(address="+447700900001", text="ACK", evidence={"provider_id": "in-1"}),
    ]


def test_custom_paths_and_events_under_a_key():
    o = opts(
        callback_events_path="data.items",
        callback_id_path="msg.ref",
        callback_status_path="msg.state",
        callback_from_path="sender.msisdn",
        callback_text_path="body",
        status_map={"ok": "delivered", "ko": "failed"},
    )
    events = call(
        {
            "data": {
                "items": [
                    {"msg": {"ref": 7, "state": "ok"}},
                    {"sender": {"msisdn": "447700900002"}, "body": "EN ROUTE"},
                ]
            }
        },
        o,
    )
    assert events == [
        DeliveryReport("7", delivered=True, evidence={"provider_status": "ok"}),
        InboundText(address="447700900002", text="EN ROUTE"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"[1, 2]",
        b'"text"',
        b'{"status": "delivered"}',  # a receipt without an id
        b'{"from": "+4477"}',  # a message without text
        b'{"hello": "world"}',
    ],
)
def test_malformed_bodies_are_typed_errors(body):
    with pytest.raises(MalformedCallback) as err:
        parse_callback(opts(), signed(body), body, NOW)
    assert err.value.http_status == 400


def test_events_path_missing_is_malformed():
    with pytest.raises(MalformedCallback):
        call({"other": []}, opts(callback_events_path="data"))


@given(st.binary(max_size=200))
def test_any_signed_body_gives_events_or_a_typed_error(body):
    try:
        events = parse_callback(opts(), signed(body), body, NOW)
    except CallbackRejected as exc:
        assert isinstance(exc, MalformedCallback)
    else:
        assert all(isinstance(e, DeliveryReport | InboundText) for e in events)


def test_build_and_capabilities():
    from pydantic import ValidationError

    from adapters.sms_http.channel import build

    ch = build("sms", {"url": "http://p/messages", "signature_secret": "k"}, 320)
    assert ch.capabilities.max_length == 320
    assert ch.capabilities.confirms_delivery and ch.capabilities.two_way
    silent = build("sms", {"url": "http://p/messages"})  # no secret: no callbacks, so no promises
    assert not silent.capabilities.confirms_delivery and not silent.capabilities.two_way
    with pytest.raises(ValidationError):
        build("sms", {"url": "http://p/messages", "unknown": 1})
