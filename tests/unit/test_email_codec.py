"""The email codec: tokens, the composed message, replies, DSNs (RFC 3464), truncation, garbage."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.base import OutboundMessage
from adapters.email import codec

SECRET = "unit-secret-123"
NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
TOK = codec.token(SECRET, "42")

MSG = OutboundMessage(
    message_id="42", address="eng2@field.test", parts=("INC-2026-000042 P1 fire\nat the mill",),
    incident_ref="INC-2026-000042", priority="P1", needs_ack=True,
)  # fmt: skip

REPLY = (
    f"From: Eng Two <eng2@field.test>\r\nTo: callout+{TOK}@callout.test\r\n"
    f"Subject: Re: [INC-2026-000042 #{TOK}] P1 fire\r\nMessage-ID: <r1@field.test>\r\n"
    f"In-Reply-To: <{TOK}@callout.test>\r\n\r\n\r\nEN ROUTE\r\n\r\n> INC-2026-000042 P1 fire\r\n"
).encode()

# As written by a Debian Exim 4.96 for a recipient refused at RCPT (RFC 3464 layout).
DSN = (
    "From: Mail Delivery System <Mailer-Daemon@mta.test>\r\nTo: callout+" + TOK + "@callout.test\r\n"
    "Subject: Mail delivery failed: returning message to sender\r\nAuto-Submitted: auto-replied\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
    "--b1\r\nContent-Type: text/plain\r\n\r\nThis message was created automatically.\r\n\r\n"
    "--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mta.test\r\n\r\n"
    "Action: failed\r\nFinal-Recipient: rfc822;gone@field.test\r\nStatus: 5.0.0\r\n"
    "Remote-MTA: dns; 127.0.0.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user here\r\n\r\n"
    "--b1\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <" + TOK + "@callout.test>\r\n"
    "Subject: x\r\n\r\nbody\r\n\r\n--b1--\r\n"
).encode()


def test_a_token_verifies_only_with_its_secret():
    assert codec.verify(SECRET, f"Re: [INC-1 #{TOK}]") == "42"
    assert codec.verify("another-secret", f"#{TOK}") is None
    assert codec.verify(SECRET, f"#{TOK[:-1]}0") is None or TOK.endswith("0")
    assert codec.verify(SECRET, "no token") is None


def test_the_composed_message_carries_the_token_everywhere_a_reply_may_keep_it():
    mail = codec.compose(
        MSG,
        secret=SECRET,
        from_address="callout@callout.test",
        from_name="Dispatch",
        reply_address="",
        now=NOW,
    )
    assert mail["Reply-To"] == f"callout+{TOK}@callout.test"
    assert mail["Message-ID"] == f"<{TOK}@callout.test>"
    assert mail["Subject"] == f"[INC-2026-000042 #{TOK}] P1 INC-2026-000042 P1 fire"
    assert mail["Auto-Submitted"] == "auto-generated" and mail["Importance"] == "high"
    assert "Reply ACK" in mail.get_content()
    # our own message looping back is an automatic message, never a reply (no mail loop)
    assert isinstance(codec.parse(mail.as_bytes(), secret=SECRET), codec.Ignored)
    # round trip: the same headers written by a person (no Auto-Submitted) name message 42
    del mail["Auto-Submitted"]
    back = codec.parse(mail.as_bytes(), secret=SECRET)
    assert isinstance(back, codec.Reply) and back.message_id == "42"


def test_a_reply_is_its_first_unquoted_line():
    got = codec.parse(REPLY, secret=SECRET)
    assert got == codec.Reply("42", "eng2@field.test", "EN ROUTE", "<r1@field.test>")


@pytest.mark.parametrize(
    "header", ["Auto-Submitted: auto-replied", "Precedence: bulk", "Auto-Submitted: auto-generated"]
)
def test_automatic_answers_are_ignored(header: str):
    got = codec.parse(header.encode() + b"\r\n" + REPLY, secret=SECRET)
    assert isinstance(got, codec.Ignored)


def test_a_dsn_is_a_permanent_failure_of_the_returned_message():
    got = codec.parse(DSN, secret=SECRET)
    assert isinstance(got, codec.Bounce)
    assert (got.message_id, got.channel_ref, got.recipient) == (
        "42",
        f"<{TOK}@callout.test>",
        "gone@field.test",
    )
    assert got.permanent_failure and got.status == "5.0.0" and "550 5.1.1" in got.diagnostic


def test_a_delayed_dsn_is_not_a_failure():
    got = codec.parse(
        DSN.replace(b"Action: failed", b"Action: delayed").replace(b"5.0.0", b"4.4.1"), secret=SECRET
    )
    assert isinstance(got, codec.Bounce) and not got.permanent_failure


def test_mail_about_nothing_of_ours_is_ignored():
    assert isinstance(
        codec.parse(b"From: a@b\r\nSubject: hello\r\n\r\nACK\r\n", secret=SECRET), codec.Ignored
    )
    assert isinstance(codec.parse(DSN.replace(TOK.encode(), b"1-0000000000"), secret=SECRET), codec.Ignored)


@pytest.mark.parametrize("sample", [REPLY, DSN], ids=["reply", "dsn"])
def test_every_truncated_prefix_is_a_result_or_a_format_error(sample: bytes):
    for n in range(len(sample)):
        try:
            got = codec.parse(sample[:n], secret=SECRET)
        except codec.EmailFormatError:
            continue
        assert isinstance(got, codec.Reply | codec.Bounce | codec.Ignored)


@given(st.binary(max_size=400))
def test_garbage_never_raises_anything_but_a_format_error(data: bytes):
    with contextlib.suppress(codec.EmailFormatError):
        codec.parse(data, secret=SECRET)


def test_a_dsn_without_its_status_part_is_a_format_error():
    broken = DSN.replace(b"message/delivery-status", b"text/plain")
    with pytest.raises(codec.EmailFormatError, match="delivery-status"):
        codec.parse(broken, secret=SECRET)
