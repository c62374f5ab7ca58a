"""The SIP codec (sans-I/O): the caller's identity read from raw INVITEs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.sip.codec import (
    Identity,
    NameAddr,
    caller_identity,
    format_name_addr,
    header_values,
    parse_name_addr,
    split_message,
    uri_number,
)


def invite(*headers: str, ruri: str = "sip:000@192.0.2.10:5060") -> str:
    lines = [
        f"INVITE {ruri} SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds",
        "Max-Forwards: 70",
        *headers,
        "CSeq: 314159 INVITE",
        "Content-Type: application/sdp",
        "Content-Length: 4",
        "",
        "v=0\r\n",
    ]
    return "\r\n".join(lines)


# A PBX trunk (RFC 3325 §10 example shape), a softphone, a carrier with tel: PAI, and worse.
SAMPLES = [
    (
        invite(
            'From: "Jo Bloggs" <sip:0412345678@pbx.example.net>;tag=9fxced76sl',
            "To: <sip:000@192.0.2.10>",
            "Call-ID: 3848276298220188511@pbx.example.net",
            'P-Asserted-Identity: "Jo Bloggs" <sip:+61412345678@pbx.example.net;user=phone>',
        ),
        Identity("+61412345678", "Jo Bloggs", "000", "3848276298220188511@pbx.example.net", "pai"),
    ),
    (
        invite(
            "From: <sip:07700900123@192.0.2.1:5061>;tag=1",
            "To: <sip:desk@192.0.2.10>",
            "Call-ID: a84b4c76e66710",
            ruri="sip:desk@192.0.2.10:5062",
        ),
        Identity("07700900123", None, "desk", "a84b4c76e66710", "from"),
    ),
    (
        invite(
            "f: Alice <sip:alice@example.com>;tag=77",  # compact From, token display name
            "t: sip:112@example.com",
            "i: compact-1",
            "P-Asserted-Identity: <sip:alice@example.com>, <tel:+14085264000;phone-context=+1>",
        ),
        Identity("alice", "Alice", "000", "compact-1", "pai"),
    ),
    (
        invite(
            'From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag=x',
            "To: <sip:000@example.com>",
            "Call-ID: withheld",
            "P-Asserted-Identity: <tel:+442079460000>",
            "Privacy: id",
        ),
        Identity("+442079460000", None, "000", "withheld", "pai", privacy=True),
    ),
    (
        invite(
            'From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag=x',
            "To: <sip:000@example.com>",
            "Call-ID: nobody",
        ),
        Identity(None, None, "000", "nobody", ""),
    ),
    (
        invite(
            'From: "O\'Brien, \\"Pat\\"" <sip:%2B35312345@example.ie>;tag=q',  # escapes
            "To: <sip:000@example.com>",
            "Call-ID: escaped",
            "P-Asserted-Identity: garbage-without-uri",
        ),
        Identity("+35312345", 'O\'Brien, "Pat"', "000", "escaped", "from"),
    ),
    (
        invite(
            "From: <sip:0299998888@example.com>;tag=folded",
            "P-Asserted-Identity:",
            '  "Folded Name"',  # RFC 3261 §7.3.1 continuation line
            "\t<sip:0299990000@example.com>",
            "To: <sip:000@example.com>",
            "Call-ID: folded",
            ruri="tel:000",  # not a SIP Request-URI form we accept: fall back to To
        ),
        Identity("0299990000", "Folded Name", "000", "folded", "pai"),
    ),
]


@pytest.mark.parametrize(("raw", "expected"), SAMPLES)
def test_caller_identity_of_real_invite_shapes(raw: str, expected: Identity) -> None:
    assert caller_identity(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), SAMPLES)
def test_bare_lf_line_endings_read_the_same(raw: str, expected: Identity) -> None:
    assert caller_identity(raw.replace("\r\n", "\n")) == expected


def test_every_truncated_prefix_gives_no_number_the_from_number_or_the_pai_number() -> None:
    raw, expected = SAMPLES[0]  # From 0412345678, then P-Asserted-Identity +61412345678
    seen = []
    for n in range(len(raw) + 1):
        number = caller_identity(raw[:n]).number
        assert number in (None, "0412345678", "+61412345678"), raw[:n]
        if not seen or seen[-1] != number:
            seen.append(number)
    assert seen == [None, "0412345678", "+61412345678"]  # never a half-read number
    assert caller_identity(raw).number == expected.number


def test_headers_split_on_commas_outside_quotes_and_brackets() -> None:
    _, headers = split_message(
        'INVITE sip:a@b SIP/2.0\r\nP-Asserted-Identity: "Doe, J" <sip:1@h>, <tel:2>\r\n\r\n'
    )
    assert header_values(headers, "P-Asserted-Identity") == ['"Doe, J" <sip:1@h>', "<tel:2>"]


def test_the_body_is_not_read_as_headers() -> None:
    raw = "INVITE sip:a@b SIP/2.0\r\nCall-ID: 1\r\n\r\nFrom: <sip:999@evil>\r\n"
    assert caller_identity(raw).number is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"Caller 0412" <sip:0412@127.0.0.1:5091>;tag=1', NameAddr("Caller 0412", "sip:0412@127.0.0.1:5091")),
        ("<sip:0412@h>", NameAddr(None, "sip:0412@h")),
        ("sip:0412@h;tag=1", NameAddr(None, "sip:0412@h")),
        ("Bob <sips:bob@h>", NameAddr("Bob", "sips:bob@h")),
        ('"" <sip:x@h>', NameAddr(None, "sip:x@h")),
        ('"unterminated <sip:x@h>', None),
        ('"Name" sip:x@h', None),
        ("<sip:x@h", None),
        ("no uri here", None),
        ("", None),
    ],
)
def test_parse_name_addr(value: str, expected: NameAddr | None) -> None:
    assert parse_name_addr(value) == expected


@pytest.mark.parametrize(
    ("uri", "number"),
    [
        ("sip:0412345678@h", "0412345678"),
        ("sip:+61412345678@h;user=phone", "+61412345678"),
        ("sip:+1-212-555-1212;npdi@h", "+1-212-555-1212"),
        ("sips:user:secret@h", "user"),
        ("tel:+14085264000;phone-context=+1", "+14085264000"),
        ("SIP:Anonymous@anonymous.invalid", None),
        ("sip:h", None),
        ("mailto:a@b", None),
        ("sip:%30%34@h", "04"),
        ("nonsense", None),
    ],
)
def test_uri_number(uri: str, number: str | None) -> None:
    assert uri_number(uri) == number


names = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
users = st.text(alphabet="0123456789+", min_size=1, max_size=15)


@given(names, users)
def test_name_addr_round_trip(display: str, user: str) -> None:
    uri = f"sip:{user}@198.51.100.7:5060"
    parsed = parse_name_addr(format_name_addr(display, uri))
    assert parsed == NameAddr(display or None, uri)


@given(names, users, users)
def test_pai_always_beats_from(display: str, from_user: str, pai_user: str) -> None:
    raw = invite(
        f"From: {format_name_addr(display, f'sip:{from_user}@h')};tag=1",
        f"P-Asserted-Identity: <sip:{pai_user}@h>",
        "Call-ID: x",
    )
    ident = caller_identity(raw)
    assert (ident.number, ident.number_from) == (pai_user, "pai")
    if display.strip() and display.lower() not in {
        "anonymous",
        "unknown",
        "unavailable",
        "restricted",
        "private",
    }:
        assert ident.name == display  # PAI has no display name here: From's is used


@given(st.text(max_size=400))
def test_garbage_never_raises(raw: str) -> None:
    ident = caller_identity(raw)
    assert ident.number is None or isinstance(ident.number, str)


@given(st.binary(max_size=300))
def test_garbage_bytes_decoded_never_raise(raw: bytes) -> None:
    caller_identity(raw.decode("latin-1"))
