"""The MQTT radio codec (sans-I/O): addresses, topics, payload tables, truncation and garbage."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from adapters.base import OutboundMessage
from adapters.radio_mqtt.codec import (
    BadAddress,
    Downlink,
    Fix,
    GarbledUplink,
    Presence,
    Target,
    TopicKind,
    TopicRef,
    Topics,
    Uplink,
    UplinkType,
    decode_downlink,
    decode_presence,
    decode_uplink,
    encode_downlink,
    encode_uplink,
    parse_address,
)
from adapters.radio_mqtt.options import Options

MSG = OutboundMessage(
    message_id="1234",
    address="R17",
    parts=("INC-2026-000042 P1 kitchen fire, 1 High St \u2013 caf\u00e9",),
    incident_ref="INC-2026-000042",
    priority="P1",
    needs_ack=True,
)

# Real uplinks as a radio gateway writes them (by hand, not by our encoder), and what they mean.
UPLINKS: list[tuple[bytes, Uplink]] = [
    (b'{"type":"delivered","id":"1234"}', Uplink(UplinkType.DELIVERED, "1234")),
    (b'{"type": "ack", "id": 1234}', Uplink(UplinkType.ACK, "1234")),
    (b'{"type":"ack","id":"77","group":"ALPHA"}', Uplink(UplinkType.ACK, "77", group="ALPHA")),
    (
        b'{"type":"status","status":"en_route","id":"s1","rssi":-71}',
        Uplink(UplinkType.STATUS, "s1", status="en_route"),
    ),
    (b'{"type":"status","status":"on_scene"}', Uplink(UplinkType.STATUS, None, status="on_scene")),
    (b'{"type":"status","status":"clear","id":9}', Uplink(UplinkType.STATUS, "9", status="available")),
    (
        '{"type":"text","text":"ETA 5 MIN \u00fcber","id":"t3"}'.encode(),
        Uplink(UplinkType.TEXT, "t3", text="ETA 5 MIN \u00fcber"),
    ),
    (
        b'{"type":"position","lat":51.5072,"lon":-0.1276,"fix_ts":1764648000}',
        Uplink(UplinkType.POSITION, fix=Fix(51.5072, -0.1276, 1764648000.0)),
    ),
    (b'{"type":"position","lat":-33.9,"lon":151}', Uplink(UplinkType.POSITION, fix=Fix(-33.9, 151.0))),
    (
        b'{"type":"status","status":"en_route","id":"s2","lat":51.5,"lon":-0.1,"fix_ts":1764648001.5}',
        Uplink(UplinkType.STATUS, "s2", status="en_route", fix=Fix(51.5, -0.1, 1764648001.5)),
    ),
]

GARBLED_UPLINKS = [
    b"",
    b"ack 1234",
    b"\xff\xfe{}",
    b"[]",
    b'"ack"',
    b"{}",
    b'{"type":"ack"}',  # an ack must quote the message id
    b'{"type":"delivered","id":""}',
    b'{"type":"ack","id":true}',
    b'{"type":"ack","id":1.5}',
    b'{"type":"ack","id":"' + b"9" * 200 + b'"}',
    b'{"type":"ack","id":"1","group":"a/b"}',
    b'{"type":"status","status":"flying"}',
    b'{"type":"status"}',
    b'{"type":"text","text":"   "}',
    b'{"type":"text","text":5}',
    b'{"type":"teleport","id":"1"}',
    b'{"type":["ack"],"id":"1"}',
    b'{"type":"ack","id":NaN}',
    b"[" * 50_000 + b"]" * 50_000,  # too big, and would be too deep
    b"[" * 5_000,  # deep nesting within the size limit
    '{"type":"ack","id":"1"}'.encode("utf-16"),
    b'{"type":"position"}',  # a position needs its fix
    b'{"type":"position","lat":51.5}',
    b'{"type":"position","lat":"51.5","lon":0}',
    b'{"type":"position","lat":91,"lon":0}',
    b'{"type":"position","lat":0,"lon":-180.5}',
    b'{"type":"position","lat":true,"lon":0}',
    b'{"type":"position","lat":0,"lon":0,"fix_ts":-1}',
    b'{"type":"position","lat":0,"lon":0,"fix_ts":"now"}',
    b'{"type":"status","status":"on_scene","lon":0}',  # half a fix
]


# ---- addresses and topics ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "target", "topic"),
    [
        ("R123", Target("R123", False), "callout/radio/R123/down"),
        ("tg:ALPHA", Target("ALPHA", True), "callout/group/ALPHA/down"),
        ("unit_7.a-b", Target("unit_7.a-b", False), "callout/radio/unit_7.a-b/down"),
    ],
)
def test_addresses_map_to_downlink_topics(address, target, topic):
    assert parse_address(address) == target
    assert target.address == address
    assert Topics("callout").down(target) == topic


@pytest.mark.parametrize(
    "address", ["", "tg:", "R 1", "R/1", "R+", "R#", "tg:A/B", "x" * 65, "R\x001", "tg:tg:A", "\u00e9"]
)
def test_bad_addresses_are_refused(address):
    with pytest.raises(BadAddress):
        parse_address(address)


@pytest.mark.parametrize(
    ("topic", "ref"),
    [
        ("site/callout/radio/R1/up", TopicRef(TopicKind.UPLINK, "R1")),
        ("site/callout/radio/R1/status", TopicRef(TopicKind.PRESENCE, "R1")),
        ("site/callout/gateway/gw-1/status", TopicRef(TopicKind.GATEWAY, "gw-1")),
    ],
)
def test_topics_parse_under_a_multi_level_prefix(topic, ref):
    topics = Topics("site/callout")
    assert topics.parse(topic) == ref
    assert topics.filters() == (
        "site/callout/radio/+/up",
        "site/callout/radio/+/status",
        "site/callout/gateway/+/status",
    )


@pytest.mark.parametrize(
    "topic",
    [
        "callout/radio/R1/up",  # another prefix
        "site/callout/radio/R1/down",  # our own downlink
        "site/callout/group/A/up",
        "site/callout/radio/R1/up/extra",
        "site/callout/radio//up",
        "site/callout/radio/R 1/up",
        "site/callout/gateway/g/up",
        "site/callout",
        "",
    ],
)
def test_foreign_topics_are_garbled(topic):
    with pytest.raises(GarbledUplink) as err:
        Topics("site/callout").parse(topic)
    assert err.value.topic == topic


@pytest.mark.parametrize("prefix", ["", "a//b", "/a", "a/", "a/+", "#", "$SYS/x", "a\x00"])
def test_bad_prefixes_are_refused_by_the_options(prefix):
    with pytest.raises(ValidationError):
        Options(prefix=prefix)


# ---- downlink ------------------------------------------------------------------------------
def test_downlink_has_the_documented_fields_and_round_trips():
    raw = encode_downlink(MSG, ts=1790000000.12345)
    assert json.loads(raw) == {
        "id": "1234",
        "incident": "INC-2026-000042",
        "text": MSG.text,
        "priority": "P1",
        "ack": True,
        "purpose": "dispatch",
        "ts": 1790000000.123,
    }
    assert decode_downlink(raw) == Downlink(
        "1234", "INC-2026-000042", MSG.text, "P1", True, "dispatch", 1790000000.123
    )


def test_every_truncated_downlink_is_garbled():
    raw = encode_downlink(MSG, ts=1.0)
    for cut in range(len(raw)):
        with pytest.raises(GarbledUplink):
            decode_downlink(raw[:cut])


# ---- uplink --------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), UPLINKS)
def test_uplinks_decode_and_round_trip(raw, expected):
    assert decode_uplink(raw) == expected
    assert decode_uplink(encode_uplink(expected)) == expected


@pytest.mark.parametrize(("raw", "expected"), UPLINKS)
def test_every_truncated_uplink_is_garbled(raw, expected):
    for cut in range(len(raw)):
        with pytest.raises(GarbledUplink):
            decode_uplink(raw[:cut], topic="callout/radio/R1/up")


@pytest.mark.parametrize("raw", GARBLED_UPLINKS)
def test_garbled_uplinks(raw):
    with pytest.raises(GarbledUplink) as err:
        decode_uplink(raw, topic="callout/radio/R1/up")
    assert err.value.topic == "callout/radio/R1/up" and err.value.reason


def test_dedupe_keys_name_the_radio_the_type_and_the_id():
    assert Uplink(UplinkType.ACK, "5").dedupe_key("R1") == ("R1", "ack", "5")
    assert Uplink(UplinkType.DELIVERED, "5").dedupe_key("R1") != Uplink(UplinkType.ACK, "5").dedupe_key("R1")
    assert Uplink(UplinkType.STATUS, None, status="en_route").dedupe_key("R1") is None


# ---- presence ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "presence"),
    [
        (b"online", Presence(True)),
        (b"offline\n", Presence(False)),
        (b"OFFLINE", Presence(False)),
        (b'{"status":"online","gateway":"fleet-0"}', Presence(True, "fleet-0")),
        (b'{"status":"offline"}', Presence(False)),
        (b"", Presence(None)),  # retained message cleared
    ],
)
def test_presence(raw, presence):
    assert decode_presence(raw) == presence


@pytest.mark.parametrize(
    "raw", [b"on", b"1", b"{}", b'{"status":"away"}', b'{"status":"online","gateway":"a/b"}', b"\xff"]
)
def test_garbled_presence(raw):
    with pytest.raises(GarbledUplink):
        decode_presence(raw)


def test_every_truncated_json_presence_is_garbled():
    raw = b'{"status":"online","gateway":"fleet-0"}'
    for cut in range(1, len(raw)):
        with pytest.raises(GarbledUplink):
            decode_presence(raw[:cut])


# ---- garbage never raises anything else ----------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
uplink_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["delivered", "ack", "status", "text", "x"]) | json_values,
        "id": json_values,
        "status": st.sampled_from(["en_route", "clear", "?"]) | json_values,
        "text": json_values,
        "group": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | uplink_like.map(lambda d: json.dumps(d).encode()))
def test_garbage_uplinks_raise_only_the_codec_error(raw):
    try:
        uplink = decode_uplink(raw)
    except GarbledUplink:
        return
    assert isinstance(uplink.type, UplinkType)
    assert uplink.id is None or 0 < len(uplink.id) <= 128


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()), st.text(max_size=40))
def test_garbage_presence_and_topics_raise_only_the_codec_error(raw, topic):
    for decode in (lambda: decode_presence(raw), lambda: Topics("callout").parse(topic)):
        with contextlib.suppress(GarbledUplink):
            decode()


# ---- options ---------------------------------------------------------------------------------
def test_options_parse_the_broker_url_and_refuse_unknown_keys():
    o = Options(broker="mqtts://broker.example:8884", client_id="gw-1")
    assert (o.host, o.port, o.tls, o.identifier("radio")) == ("broker.example", 8884, True, "gw-1")
    assert Options(broker="mqtt://10.0.0.5").port == 1883
    assert Options(broker="mqtts://10.0.0.5").port == 8883
    assert Options().identifier("radio").startswith("callout-") and Options().identifier("radio").endswith(
        "-radio"
    )
    for bad in ("http://x", "mqtt://", "mqtt://u:p@host", "mqtt://host:99999", "mqtt://host/path"):
        with pytest.raises(ValidationError):
            Options(broker=bad)
    for tls_without_mqtts in ({"ca_file": "/ca.pem"}, {"tls_insecure": True}):
        with pytest.raises(ValidationError, match="mqtts"):
            Options(broker="mqtt://x", **tls_without_mqtts)
    with pytest.raises(ValidationError, match="together"):
        Options(broker="mqtts://x", cert_file="/c.pem")
    with pytest.raises(ValidationError) as err:
        Options(brokr="mqtt://x")
    assert err.value.errors()[0]["type"] == "extra_forbidden"
