"""The email channel against the mail simulator over real sockets: send, reply, bounce, faults,
STARTTLS with AUTH."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.base import DeliveryReport, InboundText, OutboundMessage
from adapters.email import codec
from adapters.email.channel import EmailChannel, build
from adapters.errors import ChannelError
from simulators.mail_server import MailServer
from tests.support.waiting import until

SECRET = "test-secret-0123"


def msg(
    address: str, message_id: str = "17", text: str = "INC-2026-000042 P1 fire at the mill"
) -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id, address=address, parts=(text,), incident_ref="INC-2026-000042", priority="P1",
        needs_ack=True,
    )  # fmt: skip


def channel(srv: MailServer, **extra: Any) -> EmailChannel:
    options: dict[str, Any] = {
        "host": "127.0.0.1", "port": srv.port, "security": "none", "from_address": "callout@callout.test",
        "token_secret": SECRET, "listen_port": 0, "timeout": 3.0, "probe_interval": 0.2, **extra,
    }  # fmt: skip
    ch = build("mail", options)
    assert isinstance(ch, EmailChannel)
    return ch


async def next_event(ch: EmailChannel) -> Any:
    async with asyncio.timeout(5):
        async for event in ch.events():
            return event
    raise AssertionError("the event feed ended")


async def test_a_message_is_sent_with_its_token_and_a_reply_names_it():
    srv = MailServer(mailboxes={"eng2@field.test"}, replies={"eng2@field.test": "ack, on my way"})
    async with srv:
        ch = channel(srv)
        async with ch:
            srv.return_port = ch.listen_port or 0
            receipt = await ch.send(msg("eng2@field.test"))
            tok = codec.token(SECRET, "17")
            assert receipt.channel_ref == f"<{tok}@callout.test>"
            assert (
                receipt.evidence["smtp_code"] == 250 and receipt.evidence["message_id"] == receipt.channel_ref
            )
            got = srv.received[0]
            assert got.mail_from == f"callout+{tok}@callout.test"  # bounces come back tokened
            assert got.message["Reply-To"] == f"callout+{tok}@callout.test"
            assert f"#{tok}" in got.subject and "INC-2026-000042" in got.subject
            event = await next_event(ch)
    assert isinstance(event, InboundText)
    assert event == InboundText(
        address="eng2@field.test", text="ack, on my way", message_id="17", evidence=event.evidence
    )
    assert event.evidence["email_from"] == "eng2@field.test"


async def test_a_bounce_after_acceptance_is_a_failed_report_for_that_message():
    async with MailServer(bounce={"gone@field.test"}) as srv:
        ch = channel(srv)
        async with ch:
            srv.return_port = ch.listen_port or 0
            receipt = await ch.send(msg("gone@field.test", message_id="9"))
            event = await next_event(ch)
    assert isinstance(event, DeliveryReport)
    assert event.channel_ref == receipt.channel_ref and not event.delivered
    assert event.evidence["dsn_status"] == "5.1.1" and "mailbox unavailable" in event.reason


async def test_an_out_of_office_is_not_an_acknowledgement_and_garbage_is_counted():
    async with MailServer(out_of_office={"away@field.test"}) as srv:
        ch = channel(srv)
        async with ch:
            srv.return_port = ch.listen_port or 0
            await ch.send(msg("away@field.test"))
            await until(lambda: any(line.startswith("SENT") for line in srv.transcript), "auto-reply sent")
            await srv.send_garbage("callout+x@callout.test")
            await until(lambda: ch.garbled == 1, "garbage counted")
            assert ch._inbound.empty()
            # the link recovers: a real reply still comes through
            srv.mailboxes.add("eng2@field.test")
            srv.replies["eng2@field.test"] = "EN ROUTE"
            await ch.send(msg("eng2@field.test", message_id="18"))
            event = await next_event(ch)
    assert isinstance(event, InboundText) and event.text == "EN ROUTE" and event.message_id == "18"


async def test_a_forged_token_and_a_stranger_address_match_nothing():
    async with MailServer() as srv:
        ch = channel(srv)
        async with ch:
            import aiosmtplib

            forged = codec.token("another-secret!!", "17")
            with pytest.raises(aiosmtplib.SMTPRecipientsRefused):  # no open relay
                await aiosmtplib.send(
                    b"Subject: hi\r\n\r\nACK\r\n", sender="x@y.test", recipients=["root@callout.test"],
                    hostname="127.0.0.1", port=ch.listen_port, start_tls=False,
                )  # fmt: skip
            await aiosmtplib.send(
                f"From: x@y.test\r\nSubject: Re: #{forged}\r\n\r\nACK\r\n".encode(), sender="x@y.test",
                recipients=[f"callout+{forged}@callout.test"], hostname="127.0.0.1", port=ch.listen_port,
                start_tls=False,
            )  # fmt: skip
            assert ch._inbound.empty()


async def test_refusals_are_permanent_and_temporary_failures_temporary():
    srv = MailServer(reject={"nobody@field.test"}, tempfail={"busy@field.test"})
    async with srv, channel(srv) as ch:
        with pytest.raises(ChannelError) as refused:
            await ch.send(msg("nobody@field.test"))
        assert not refused.value.temporary and refused.value.evidence["smtp_code"] == 550
        with pytest.raises(ChannelError) as busy:
            await ch.send(msg("busy@field.test"))
        assert busy.value.temporary and busy.value.evidence["smtp_code"] == 451
        srv.tempfail_data = 1
        srv.mailboxes.add("eng2@field.test")
        with pytest.raises(ChannelError) as data:
            await ch.send(msg("eng2@field.test"))
        assert data.value.temporary
        await ch.send(msg("eng2@field.test"))  # the next one goes through
    assert len(srv.received) == 1


async def test_a_server_that_went_away_takes_the_channel_down_and_back_up():
    srv = MailServer(mailboxes={"eng2@field.test"})
    async with srv:
        port = srv.port
    ch = channel(srv, down_after=1)
    async with ch:
        with pytest.raises(ChannelError) as gone:
            await ch.send(msg("eng2@field.test"))
        assert gone.value.temporary
        assert ch.health.state.value == "down"
        async with MailServer(port=port, mailboxes={"eng2@field.test"}):
            await until(lambda: ch.health.state.value == "up", "channel up again")


def _certificate(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


async def test_starttls_with_authentication(tmp_path: Path):
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    srv = MailServer(mailboxes={"eng2@field.test"}, tls_context=context, users={"callout": "s3cret"})
    async with srv:
        common = {"host": "localhost", "security": "starttls", "ca_file": str(cert), "username": "callout"}
        async with channel(srv, **common, password="s3cret") as ch:
            await ch.send(msg("eng2@field.test"))
        async with channel(srv, **common, password="wrong") as ch:
            with pytest.raises(ChannelError) as refused:
                await ch.send(msg("eng2@field.test"))
            assert refused.value.evidence["smtp_code"] == 535
    assert [(m.tls, m.login) for m in srv.received] == [(True, "callout")]
