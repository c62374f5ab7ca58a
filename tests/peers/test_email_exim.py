"""Peer test: a real MTA (Debian's Exim) between the email channel and the mail simulator.

The channel submits to Exim with STARTTLS and AUTH; Exim relays to the simulator's domain; the
simulator's people reply through Exim to callout's listener; a recipient the simulator refuses
makes Exim write the bounce (its own DSN, RFC 3464), which comes back through the listener and
fails the message for good. Never skipped: without Exim the test fails saying what to install."""

from __future__ import annotations

import asyncio
from typing import Any

from adapters.base import DeliveryReport, InboundText, OutboundMessage
from adapters.email.channel import EmailChannel, build
from simulators.mail_server import MailServer
from tests.support.exim import PASSWORD, USER, free_port, private_exim

SECRET = "peer-secret-0123"


def msg(address: str, message_id: str) -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id, address=address, parts=("INC-2026-000042 P1 fire at the mill",),
        incident_ref="INC-2026-000042", priority="P1", needs_ack=True,
    )  # fmt: skip


async def next_event(ch: EmailChannel, timeout: float = 15) -> Any:
    async with asyncio.timeout(timeout):
        async for event in ch.events():
            return event
    raise AssertionError("the event feed ended")


async def test_send_reply_and_bounce_through_exim():
    listener = free_port()
    sim = MailServer(
        mailboxes={"eng2@field.test"}, replies={"eng2@field.test": "ACK"}, reject={"gone@field.test"}
    )
    async with sim, private_exim(listener_port=listener, field_port=sim.port) as mta:
        sim.return_port = mta.port  # the people's replies go through the MTA too
        options = {
            "host": "localhost", "port": mta.port, "security": "starttls", "ca_file": str(mta.ca_file),
            "username": USER, "password": PASSWORD, "from_address": "callout@callout.test",
            "token_secret": SECRET, "listen_port": listener, "timeout": 10.0,
        }  # fmt: skip
        ch = build("mail", options)
        assert isinstance(ch, EmailChannel)
        async with ch:
            receipt = await ch.send(msg("eng2@field.test", "31"))
            assert receipt.evidence["smtp_code"] == 250
            reply = await next_event(ch)
            assert isinstance(reply, InboundText), mta.log()
            assert (reply.text, reply.message_id, reply.address) == ("ACK", "31", "eng2@field.test")

            bounced = await ch.send(msg("gone@field.test", "32"))  # Exim accepts, then bounces
            report = await next_event(ch)
            assert isinstance(report, DeliveryReport), mta.log()
            assert report.channel_ref == bounced.channel_ref and not report.delivered
            assert report.evidence["dsn_action"] == "failed"
            assert "550" in report.reason and "no such user" in report.reason
    got = sim.received[0]
    received = str(got.message["Received"])
    assert "by mta.test with esmtpsa" in received  # through Exim, over TLS, authenticated (RFC 3848)
    assert got.message["Reply-To"].startswith("callout+31-")
