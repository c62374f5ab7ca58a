"""The webhook channel against the field-app simulator over real sockets, and inside the gateway."""

from __future__ import annotations

import asyncio
import socket

import pytest

from adapters.base import HealthState, OutboundMessage
from adapters.errors import ChannelError
from adapters.webhook.channel import build
from simulators.field_app import FieldApp


def msg(address: str, message_id: str = "1") -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id,
        address=address,
        parts=("INC-2026-000001 P2 test",),
        incident_ref="INC-2026-000001",
        priority="P2",
        needs_ack=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_send_accept_reject_and_fail_against_the_simulator():
    app = FieldApp(behaviours={"gone": "reject", "busy": "fail"}, default="silent")
    async with app, build("app", {"url": f"{app.url}/app/{{address}}"}) as ch:
        receipt = await ch.send(msg("ENG1", "7"))
        assert receipt.channel_ref == "app-1" and receipt.evidence == {"http_status": 200}
        assert app.received[0].body["message_id"] == "7" and app.received[0].address == "ENG1"
        with pytest.raises(ChannelError) as perm:
            await ch.send(msg("gone"))
        assert perm.value.temporary is False and perm.value.evidence["http_status"] == 404
        with pytest.raises(ChannelError) as temp:
            await ch.send(msg("busy"))
        assert temp.value.temporary is True
        assert ch.health.state is HealthState.UP  # the server answered: the channel works


async def test_unreachable_endpoint_is_temporary_and_marks_the_channel_down():
    url = f"http://127.0.0.1:{free_port()}/{{address}}"
    async with build("app", {"url": url, "down_after": 2, "timeout": 2}) as ch:
        for _ in range(2):
            with pytest.raises(ChannelError) as err:
                await ch.send(msg("ENG1"))
            assert err.value.temporary is True
        assert ch.health.state is HealthState.DOWN
        assert "failed connections" in ch.health.reason


async def test_a_down_channel_comes_back_up_when_the_endpoint_answers_again():
    port = free_port()
    url = f"http://127.0.0.1:{port}/app/{{address}}"
    async with build("app", {"url": url, "down_after": 1, "timeout": 1, "probe_interval": 0.1}) as ch:
        with pytest.raises(ChannelError):
            await ch.send(msg("ENG1"))
        assert ch.health.state is HealthState.DOWN
        async with FieldApp(port=port, default="silent"):
            for _ in range(50):
                if ch.health.state is HealthState.UP:
                    break
                await asyncio.sleep(0.05)
            assert ch.health.state is HealthState.UP
            assert "answers again" in ch.health.reason


async def test_a_hung_endpoint_fails_temporarily_and_the_retry_carries_the_same_key():
    """A webhook that takes the message and never answers: the send fails temporarily after the
    channel's `timeout` (nothing confirms it, so it is not `sent`); the engine's retry carries the
    same `Idempotency-Key`, and a receiver that honours it does not act twice."""
    app = FieldApp(behaviours={"stuck": "hang"}, default="silent")
    async with app, build("app", {"url": f"{app.url}/app/{{address}}", "timeout": 0.3}) as ch:
        with pytest.raises(ChannelError) as hung:
            await ch.send(msg("stuck", "41"))
        assert hung.value.temporary is True and "no answer within 0.3s" in hung.value.reason
        assert ch.health.state is HealthState.UP  # it answered TCP: a slow app is not a dead one
        app.behaviours["stuck"] = "silent"  # the app recovers; the engine retries attempt 41
        receipt = await ch.send(msg("stuck", "41"))
        assert receipt.channel_ref == "app-1"  # the first answer, not a second message
        assert len(app.received) == 1 and app.duplicates_dropped == 1
        await ch.send(msg("stuck", "42"))  # another attempt is another message
        assert len(app.received) == 2 and app.duplicates_dropped == 1


async def test_the_idempotency_header_can_be_renamed_or_left_out():
    app = FieldApp(default="silent")
    async with app, build("app", {"url": f"{app.url}/app/{{address}}", "idempotency_header": ""}) as ch:
        await ch.send(msg("ENG1", "5"))
        await ch.send(msg("ENG1", "5"))
        assert len(app.received) == 2 and app.duplicates_dropped == 0
