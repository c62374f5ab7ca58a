"""Provider callbacks through the API: the sms_http channel against the provider simulator."""

from __future__ import annotations

import aiohttp

from adapters.sms_http.channel import build
from gateway.api import ApiServer
from gateway.app import Gateway
from gateway.domain.states import DeliveryState
from gateway.settings import Settings
from simulators.sms_http_provider import SmsProvider
from tests.api.conftest import TOKENS, eventually

SECRET = "provider-callback-secret-01"


async def test_signed_receipts_and_replies_close_the_loop_and_forged_ones_are_refused(tmp_path):
    settings = Settings(
        store={"url": f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"},
        api={"tokens": [{"name": "desk", "role": "dispatcher", "token": TOKENS["dispatcher"]}]},
        channels=[{"name": "sms", "kind": "sms_http", "options": {"url": "http://127.0.0.1:9/"}}],
        resources=[
            {
                "id": "ENG-1",
                "capabilities": ["fire"],
                "contact_plan": [{"channel": "sms", "address": "+447700900001"}],
            }
        ],
    )
    provider = SmsProvider(secret=SECRET, auto_reply="ACK", receipt_delay=0.05, reply_delay=0.1)
    async with provider:
        sms = build("sms", {"url": provider.url, "signature_secret": SECRET})
        async with (
            Gateway(settings, channels={"sms": sms}) as gw,
            gw.running(),
            ApiServer(gw, "127.0.0.1", 0) as api,
            aiohttp.ClientSession() as http,
        ):
            provider.callback = f"{api.url}/api/v1/channels/sms/callback"
            inc = await gw.incidents.create(
                {"nature": "fire", "location": "Depot", "category": "fire", "impact": 1, "urgency": 2},
                source="desk",
                actor="t",
            )
            await gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="t")

            async def acknowledged() -> None:
                async with gw.store.read() as tx:
                    (d,) = await tx.deliveries_for_incident(inc.id)
                    attempts = await tx.attempts_for([d.id])
                assert d.state is DeliveryState.ACKNOWLEDGED
                assert attempts[0].delivered_at is not None  # the signed receipt arrived first

            await eventually(acknowledged)
            assert [status for status, _ in provider.callbacks] == [200, 200]

            forged = b'{"id": "sms-000001", "status": "failed"}'
            async with http.post(
                f"{api.url}/api/v1/channels/sms/callback", data=forged, headers={"X-Signature": "0" * 64}
            ) as resp:
                assert resp.status in (401, 403)
                assert (await resp.json())["error"] == "callback_rejected"
            async with http.post(f"{api.url}/api/v1/channels/nope/callback", data=b"{}") as resp:
                assert resp.status == 404
