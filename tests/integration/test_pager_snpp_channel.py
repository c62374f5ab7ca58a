"""The SNPP channel against the SNPP server simulator over real sockets."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from adapters.base import HealthState, OutboundMessage
from adapters.errors import ChannelError
from adapters.pager_snpp.channel import build
from simulators.snpp_server import SnppPage, SnppServer
from tests.support.waiting import until

FAST: dict[str, Any] = {"reply_timeout": 2.0, "recheck_interval": 0.3}


def msg(address: str, text: str = "INC-2026-000001 P2 kitchen fire", priority: str = "P2") -> OutboundMessage:
    return OutboundMessage(
        message_id="1", address=address, parts=(text,), incident_ref="INC-2026-000001", priority=priority,
        needs_ack=True,
    )  # fmt: skip


def channel(srv: SnppServer, **extra: Any):
    return build("pager", {"host": "127.0.0.1", "port": srv.port, **FAST, **extra})


async def test_a_multi_recipient_page_is_one_transaction_with_the_priority_level():
    async with SnppServer() as srv, channel(srv) as ch:
        await until(lambda: ch.health.state is HealthState.UP, "connected")
        assert ch.health.reason.startswith("connected: 220")
        receipt = await ch.send(msg("1001,1002, 1003", "Unit 12 to Stn 4", priority="P1"))
        assert receipt.evidence == {
            "snpp_connection": 1,
            "snpp_recipients": ["1001", "1002", "1003"],
            "snpp_code": "250",
            "snpp_text": "Message Sent Successfully",
        }
        await ch.send(msg("1004", "normal priority"))
    assert srv.pages == [
        SnppPage("1001", "Unit 12 to Stn 4", 0, 1),
        SnppPage("1002", "Unit 12 to Stn 4", 0, 1),
        SnppPage("1003", "Unit 12 to Stn 4", 0, 1),
        SnppPage("1004", "normal priority", 1, 1),
    ]
    assert srv.transcript == [
        "LEVE 0", "PAGE 1001", "LEVE 0", "PAGE 1002", "LEVE 0", "PAGE 1003", "MESS Unit 12 to Stn 4", "SEND",
        "PAGE 1004", "MESS normal priority", "SEND", "QUIT",
    ]  # fmt: skip


async def test_one_invalid_recipient_of_a_group_is_reported_and_the_rest_are_paged():
    async with SnppServer(invalid_ids={"999"}) as srv, channel(srv) as ch:
        receipt = await ch.send(msg("1001,999,1002"))
    assert receipt.evidence["snpp_recipients"] == ["1001", "1002"]
    assert receipt.evidence["snpp_rejected"] == {"999": "550 Error, Invalid Pager ID"}
    assert [p.pager_id for p in srv.pages] == ["1001", "1002"]


async def test_550_is_permanent_and_the_connection_goes_on():
    async with SnppServer(invalid_ids={"999"}) as srv, channel(srv) as ch:
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("999"))
        ok = await ch.send(msg("1001"))
    assert err.value.temporary is False and err.value.endpoint == "999"
    assert (
        err.value.evidence["code"] == "550" and err.value.evidence["snpp_text"] == "Error, Invalid Pager ID"
    )
    assert ok.evidence["snpp_connection"] == 1 and srv.connections == 1  # 5xx: the session continues


async def test_554_on_send_is_temporary():
    async with SnppServer(technical_ids={"1001"}) as srv, channel(srv) as ch:
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("1001"))
    assert err.value.temporary is True and err.value.evidence["code"] == "554"
    assert srv.pages == []


async def test_a_421_in_mid_session_is_retried_once_on_a_new_connection():
    async with SnppServer(inject={"MESS": [421]}) as srv, channel(srv) as ch:
        receipt = await ch.send(msg("1001", "after the 421"))
        assert ch.health.state is HealthState.UP
    assert receipt.evidence["snpp_connection"] == 2 and srv.connections == 2
    assert [p.text for p in srv.pages] == ["after the 421"]
    assert srv.transcript[:4] == ["PAGE 1001", "MESS after the 421", "PAGE 1001", "MESS after the 421"]


async def test_two_421s_in_a_row_are_a_temporary_failure():
    async with SnppServer(inject={"SEND": [421, 421]}) as srv, channel(srv) as ch:
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("1001"))
    assert err.value.temporary is True and err.value.evidence["code"] == "421"
    assert srv.pages == [] and srv.connections == 2


async def test_the_servers_idle_timeout_is_survived_by_reconnecting():
    async with SnppServer(idle_timeout=0.3) as srv, channel(srv) as ch:
        first = await ch.send(msg("1001"))
        await asyncio.sleep(0.6)  # the server says "421 Timeout, Goodbye" and closes
        second = await ch.send(msg("1002"))
    assert (first.evidence["snpp_connection"], second.evidence["snpp_connection"]) == (1, 2)
    assert [p.pager_id for p in srv.pages] == ["1001", "1002"]


async def test_an_idle_connection_is_closed_with_quit():
    async with SnppServer() as srv, channel(srv, idle_timeout=0.2) as ch:
        await ch.send(msg("1001"))
        await until(lambda: srv.transcript[-1:] == ["QUIT"], "QUIT after idling")
        receipt = await ch.send(msg("1002"))
    assert receipt.evidence["snpp_connection"] == 2


async def test_max_recipients_552_splits_the_group_into_transactions():
    async with SnppServer(max_recipients=2) as srv, channel(srv) as ch:
        receipt = await ch.send(msg("1,2,3,4,5"))
    assert receipt.evidence["snpp_recipients"] == ["1", "2", "3", "4", "5"]
    assert [p.pager_id for p in srv.pages] == ["1", "2", "3", "4", "5"]
    assert srv.transcript.count("SEND") == 3


async def test_a_text_with_line_breaks_goes_with_data_and_dots_are_stuffed():
    async with SnppServer() as srv, channel(srv) as ch:
        await ch.send(msg("1001", "line one\n.hidden dot\n."))
    assert srv.pages[0].text == "line one\n.hidden dot\n."
    assert "DATA" in srv.transcript and "..hidden dot" in srv.transcript


async def test_a_server_that_is_not_there_is_down():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with build("pager", {"host": "127.0.0.1", "port": port, **FAST}) as ch:
        await until(lambda: ch.health.state is HealthState.DOWN, "down")
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("1001"))
    assert err.value.temporary is True and err.value.evidence["code"] == "connect"


async def test_a_refused_login_is_down():
    async with (
        SnppServer(login_password="right") as srv,
        channel(srv, login="callout", login_password="wrong") as ch,
    ):
        await until(lambda: ch.health.state is HealthState.DOWN, "down")
        assert "login refused: 550" in ch.health.reason


async def test_a_server_that_closes_before_answering_send_never_counts_as_sent():
    """The server goes away after the message but before its 250 to SEND (RFC 1861 §4.5.1):
    nothing confirms the page, so the send fails temporarily (the engine retries it); the next
    send goes on a new connection and is `sent` on its 250."""
    async with SnppServer(inject={"SEND": [0]}) as srv, channel(srv) as ch:
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("1001", "lost with the server"))
        assert err.value.temporary is True and "after SEND" in err.value.reason
        assert srv.pages == []
        receipt = await ch.send(msg("1001", "the retry"))
    assert receipt.evidence["snpp_connection"] == 2
    assert [p.text for p in srv.pages] == ["the retry"]
