"""Email end to end: a dispatch by email whose first address bounces (a DSN after acceptance)
falls back to the next address, whose owner replies ACK; the reply's token acknowledges that
very message. Real gateway, real email channel, the mail simulator over real sockets."""

from __future__ import annotations

from pathlib import Path

from adapters.email.channel import EmailChannel
from adapters.email.channel import build as email
from gateway.app import Gateway
from gateway.domain.states import DeliveryState
from gateway.settings import Settings
from simulators.mail_server import MailServer
from tests.support.exim import free_port
from tests.support.waiting import until


async def test_a_bounce_moves_the_ladder_and_a_reply_acknowledges(tmp_path: Path):
    listener = free_port()
    sim = MailServer(bounce={"old@field.test"}, replies={"duty@field.test": "Yes"}, return_port=listener)
    async with sim:
        options = {
            "host": "127.0.0.1", "port": sim.port, "security": "none", "from_address": "callout@callout.test",
            "token_secret": "system-secret-1", "listen_port": listener, "timeout": 5.0,
        }  # fmt: skip
        settings = Settings(
            store={"url": f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"},
            channels=[{"name": "mail", "kind": "email", "options": options}],
            resources=[
                {
                    "id": "DUTY-MGR",
                    "capabilities": ["fire"],
                    "contact_plan": [
                        {"channel": "mail", "address": "old@field.test"},
                        {"channel": "mail", "address": "duty@field.test"},
                    ],
                }
            ],
        )
        channel = email("mail", options)
        assert isinstance(channel, EmailChannel)
        async with Gateway(settings, channels={"mail": channel}) as gw, gw.running():
            inc = await gw.incidents.create(
                {
                    "nature": "fire",
                    "location": "Mill",
                    "category": "fire",
                    "impact": 3,
                    "urgency": 3,
                },  # P3: a ladder
                source="desk",
                actor="t",
            )
            await gw.dispatch.dispatch(inc.reference, ["DUTY-MGR"], actor="t")

            async def acknowledged() -> bool:
                async with gw.store.read() as tx:
                    (d,) = await tx.deliveries_for_incident(inc.id)
                return d.state is DeliveryState.ACKNOWLEDGED

            await until(acknowledged, "acknowledged by email", timeout=10)
            async with gw.store.read() as tx:
                (d,) = await tx.deliveries_for_incident(inc.id)
                attempts = await tx.attempts_for([d.id])
    assert [(a.address, a.state) for a in attempts] == [
        ("old@field.test", DeliveryState.FAILED_PERMANENT),
        ("duty@field.test", DeliveryState.ACKNOWLEDGED),
    ]
    assert "5.1.1" in str(attempts[0].evidence)
    assert attempts[1].evidence  # the Message-ID and the SMTP reply of the send
