"""The sms_http channel against the HTTP SMS provider simulator over real sockets; callbacks go
through a route shaped like the API's `POST /api/v1/channels/{name}/callback`."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from adapters.base import DeliveryReport, HealthState, InboundText, OutboundMessage
from adapters.errors import ChannelError
from adapters.sms_http.channel import SmsHttpChannel, build
from adapters.sms_http.codec import CallbackRejected
from simulators.sms_http_provider import SmsProvider
from tests.support.waiting import until

SECRET = "shared-secret"
TOKEN = "tok-123"


def msg(
    address: str = "+447700900001", text: str = "INC-2026-000001 P1 fire", mid: str = "7"
) -> OutboundMessage:
    return OutboundMessage(
        message_id=mid,
        address=address,
        parts=(text,),
        incident_ref="INC-2026-000001",
        priority="P1",
        needs_ack=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def channel(url: str, **options: Any) -> SmsHttpChannel:
    ch = build(
        "sms",
        {"url": url, "auth_value": f"Bearer {TOKEN}", "signature_secret": SECRET, "timeout": 2} | options,
    )
    assert isinstance(ch, SmsHttpChannel)
    return ch


@asynccontextmanager
async def callback_route(ch: SmsHttpChannel) -> AsyncIterator[str]:
    """What the API route will do: hand headers and the raw body to the channel."""

    async def handle(request: web.Request) -> web.Response:
        try:
            n = ch.accept_callback(request.headers, await request.read())
        except CallbackRejected as exc:
            return web.json_response({"error": exc.reason}, status=exc.http_status)
        return web.json_response({"events": n})

    app = web.Application()
    app.router.add_post("/api/v1/channels/{name}/callback", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/api/v1/channels/sms/callback"
    finally:
        await runner.cleanup()


async def drain(ch: SmsHttpChannel, count: int, within: float = 3.0) -> list[Any]:
    out = []
    async with asyncio.timeout(within):
        while len(out) < count:
            out.append(await ch._inbound.get())
    return out


async def test_send_signed_receipts_and_replies_through_the_callback():
    provider = SmsProvider(
        token=TOKEN, secret=SECRET, behaviours={"+447700900002": "undeliverable"}, auto_reply="ACK 7"
    )
    async with provider, channel(provider.url) as ch, callback_route(ch) as callback:
        provider.callback = callback
        ok = await ch.send(msg())
        assert ok.channel_ref == "sms-000001" and ok.evidence == {
            "http_status": 200,
            "provider_id": "sms-000001",
        }
        assert (provider.received[0].to, provider.received[0].text, provider.received[0].reference) == (
            "+447700900001",
            "INC-2026-000001 P1 fire",
            "7",
        )
        bad = await ch.send(msg("+447700900002", mid="8"))
        got = await drain(ch, 3)
        assert (
            DeliveryReport(ok.channel_ref, delivered=True, evidence={"provider_status": "delivered"}) in got
        )
        assert (
            DeliveryReport(
                bad.channel_ref,
                delivered=False,
                reason="absent subscriber",
                evidence={"provider_status": "undelivered"},
            )
            in got
        )
        (reply,) = [e for e in got if isinstance(e, InboundText)]
        assert (reply.address, reply.text) == ("+447700900001", "ACK 7")
        assert await provider.inject_inbound("+447700900003", "EN ROUTE") == 200
        (extra,) = await drain(ch, 1)
        assert (extra.address, extra.text) == ("+447700900003", "EN ROUTE")
        assert [status for status, _ in provider.callbacks] == [200, 200, 200, 200]


async def test_callbacks_with_a_bad_signature_are_rejected_and_emit_nothing():
    provider = SmsProvider(secret="not-the-shared-one")
    async with provider, channel(provider.url) as ch, callback_route(ch) as callback:
        provider.callback = callback
        await ch.send(msg())
        await until(lambda: len(provider.callbacks) == 1, "receipt callback attempted")
        assert provider.callbacks[0][0] == 401
        assert await provider.inject_inbound("+447700900001", "ACK") == 401
        assert ch._inbound.empty()
        with pytest.raises(CallbackRejected):
            ch.accept_callback({}, b'{"id": "x", "status": "delivered"}')


async def test_http_statuses_map_to_temporary_and_permanent_failures():
    behaviours = {"+447700900010": "busy", "+447700900011": "fail", "+447700900012": "reject"}
    async with SmsProvider(token=TOKEN, behaviours=behaviours) as provider, channel(provider.url) as ch:
        with pytest.raises(ChannelError) as busy:
            await ch.send(msg("+447700900010"))
        assert busy.value.temporary is True
        assert busy.value.evidence == {"http_status": 429, "retry_after": 1.0}
        with pytest.raises(ChannelError) as fail:
            await ch.send(msg("+447700900011"))
        assert fail.value.temporary is True and fail.value.evidence["http_status"] == 500
        with pytest.raises(ChannelError) as reject:
            await ch.send(msg("+447700900012"))
        assert reject.value.temporary is False and reject.value.evidence["http_status"] == 400
        assert "invalid destination number" in reject.value.reason
        provider.fail_next(503)
        with pytest.raises(ChannelError) as forced:
            await ch.send(msg())
        assert forced.value.temporary is True
        assert (await ch.send(msg())).channel_ref  # and the next one goes through
        assert ch.health.state is HealthState.UP  # the provider answered every time
    async with SmsProvider(token="other") as provider, channel(provider.url) as ch:
        with pytest.raises(ChannelError) as auth:
            await ch.send(msg())
        assert auth.value.temporary is False and auth.value.evidence["http_status"] == 401


async def test_slow_provider_times_out_temporarily():
    provider = SmsProvider(behaviours={"+447700900013": "slow"}, slow_delay=0.5)
    async with provider, channel(provider.url, timeout=0.2) as ch:
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("+447700900013"))
        assert err.value.temporary is True and "TimeoutError" in err.value.reason


async def test_unreachable_provider_goes_down_then_comes_back_up():
    port = free_port()
    url = f"http://127.0.0.1:{port}/messages"
    async with channel(url, down_after=2, probe_interval=0.1) as ch:
        for _ in range(2):
            with pytest.raises(ChannelError) as err:
                await ch.send(msg())
            assert err.value.temporary is True
        assert ch.health.state is HealthState.DOWN and "failed connections" in ch.health.reason
        async with SmsProvider(port=port):
            await until(lambda: ch.health.state is HealthState.UP, "probe found the provider", timeout=3)
            assert (await ch.send(msg())).channel_ref == "sms-000001"


async def test_a_retry_after_a_timeout_carries_the_attempt_id_and_the_provider_sends_once():
    """The client reference is callout's attempt id: a send that timed out while the provider
    went on to accept it is retried with the same reference, and a provider that honours client
    references answers with the first message's id instead of sending a second SMS."""
    provider = SmsProvider(behaviours={"+447700900013": "slow"}, slow_delay=0.4)
    async with provider, channel(provider.url, timeout=0.1) as ch:
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("+447700900013", mid="55"))
        assert err.value.temporary is True  # nothing confirmed it: not `sent`
        await until(lambda: len(provider.received) == 1, "the provider took it after all")
        assert provider.received[0].reference == "55"
        receipt = await ch.send(msg("+447700900013", mid="55"))  # the engine's retry
        assert receipt.channel_ref == provider.received[0].id
        assert len(provider.received) == 1 and provider.duplicates_dropped == 1
