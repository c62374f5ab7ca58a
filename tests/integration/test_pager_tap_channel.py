"""The TAP channel against the paging-terminal simulator over a real pseudo-terminal (paced at
1200 and 9600 baud), over TCP, and through the simulated Hayes modem."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.base import HealthState, OutboundMessage
from adapters.pager_tap.channel import build
from gateway.errors import ChannelError
from simulators.tap_terminal import Faults, Page, TapTerminal, TerminalConfig
from tests.support.waiting import until

# Fast §7 timers: the simulator answers at once, so tests need not wait the spec's seconds.
FAST: dict[str, Any] = {
    "wake_interval": 0.3,
    "response_timeout": 2.0,
    "logoff_timeout": 1.0,
    "linger": 0.2,
    "recheck_interval": 0.3,
}


def msg(address: str, text: str = "INC-2026-000001 P2 kitchen fire 1 High St", i: int = 1) -> OutboundMessage:
    return OutboundMessage(
        message_id=str(i),
        address=address,
        parts=(text,),
        incident_ref="INC-2026-000001",
        priority="P2",
        needs_ack=True,
    )


def pty_channel(term: TapTerminal, baud: int = 9600, **extra: Any):
    return build("pager", {"device": term.device, "baudrate": baud, **FAST, **extra})


@pytest.fixture
def link(tmp_path: Path) -> Path:
    return tmp_path / "ttyTAP"


@pytest.mark.parametrize("baud", [1200, 9600])
async def test_single_page_over_a_real_pty_at_the_line_rate(link, baud):
    async with (
        TapTerminal(pty_link=link, baud=baud) as term,
        pty_channel(term, baud, probe_on_start=False) as ch,
    ):
        started = time.monotonic()
        receipt = await ch.send(msg("1001", "Unit 12 to Stn 4"))
        elapsed = time.monotonic() - started
        assert ch.health.state is HealthState.UP and "110 1.8" in ch.health.reason
    assert receipt.evidence == {
        "tap_code": "211",
        "tap_text": "Page(s) Sent Successfully",
        "tap_session": 1,
        "tap_blocks": 1,
        "tap_resends": 0,
    }
    assert term.pages == [Page("1001", "Unit 12 to Stn 4", "211", 1)]
    assert term.sessions[0].ended == "115 Goodbye"  # logged off once idle
    # The simulator paces the line: wake-up, logon and page (stop-and-wait) cannot beat the time
    # their characters take at 10 bits each.
    wire_time = 10.0 * (term.rx_bytes + term.tx_bytes) / baud
    assert elapsed >= 0.8 * wire_time
    if baud == 1200:
        assert elapsed > 0.5


async def test_a_batch_of_20_pages_goes_out_in_one_session(link):
    async with TapTerminal(pty_link=link, baud=9600) as term, pty_channel(term, probe_on_start=False) as ch:
        receipts = await asyncio.gather(*(ch.send(msg(f"{2000 + i}", f"page {i}", i)) for i in range(20)))
    assert ch.sessions == 1 and len(term.sessions) == 1
    assert term.sessions[0].pages == 20
    assert [p.pager_id for p in term.pages] == [f"{2000 + i}" for i in range(20)]
    assert {r.evidence["tap_session"] for r in receipts} == {1}
    assert all(r.evidence["tap_code"] == "211" for r in receipts)


async def test_sends_that_arrive_while_a_session_is_open_join_it(link):
    async with (
        TapTerminal(pty_link=link, baud=9600) as term,
        pty_channel(term, linger=0.5) as ch,
    ):  # the start-up probe opens the session
        await until(lambda: ch.health.state is HealthState.UP, "logged on")
        first = await ch.send(msg("1001"))
        await asyncio.sleep(0.2)
        second = await ch.send(msg("1002"))
        await asyncio.sleep(0.8)  # idle for longer than linger: logoff
        third = await ch.send(msg("1003"))
    assert [r.evidence["tap_session"] for r in (first, second, third)] == [1, 1, 2]
    assert [s.pages for s in term.sessions] == [2, 1]


async def test_a_long_message_goes_across_blocks(link):
    text = "Long\tmessage caf\u00e9 " + "x" * 560 + " end"
    async with (
        TapTerminal(pty_link=link, baud=9600, config=TerminalConfig(max_length=1000)) as term,
        pty_channel(term, probe_on_start=False, max_length=1000) as ch,
    ):
        assert ch.capabilities.max_length == 1000
        receipt = await ch.send(msg("1001", text))
    assert receipt.evidence["tap_blocks"] == 3 and term.sessions[0].blocks == 3
    assert term.pages[0].text == "Long\tmessage cafe " + "x" * 560 + " end"  # SUB transparency, 7-bit


async def test_nak_makes_the_channel_resend_the_block(link):
    async with (
        TapTerminal(pty_link=link, baud=9600, faults=Faults(corrupt_blocks=2)) as term,
        pty_channel(term, probe_on_start=False) as ch,
    ):
        receipt = await ch.send(msg("1001", "resend me"))
    assert receipt.evidence["tap_resends"] == 2 and receipt.evidence["tap_code"] == "211"
    assert term.sessions[0].naks == 2 and term.sessions[0].blocks == 3
    assert [p.text for p in term.pages] == ["resend me"]


async def test_nak_after_three_resends_is_a_temporary_failure(link):
    config = TerminalConfig(checksum_errors=10)  # the terminal would go on NAKing: we stop first
    async with (
        TapTerminal(pty_link=link, baud=9600, config=config, faults=Faults(corrupt_blocks=10)) as term,
        pty_channel(term, probe_on_start=False) as ch,
    ):
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("1001"))
        await until(lambda: ch.health.state is HealthState.DEGRADED, "degraded: line noise")
        assert "NAKed" in ch.health.reason
    assert err.value.temporary is True and err.value.evidence["code"] == "514"
    assert err.value.evidence["tap_resends"] == 3
    assert term.sessions[0].blocks == 4 and term.pages == []


@pytest.mark.parametrize(("pin", "code", "temporary"), [("999", "511", False), ("777", "512", True)])
async def test_rs_rejection_keeps_the_code_and_the_session_goes_on(link, pin, code, temporary):
    config = TerminalConfig(invalid_ids={"999"}, busy_ids={"777"})
    async with (
        TapTerminal(pty_link=link, baud=9600, config=config) as term,
        pty_channel(term, probe_on_start=False, linger=0.5) as ch,
    ):
        with pytest.raises(ChannelError) as err:
            await ch.send(msg(pin))
        ok = await ch.send(msg("1001"))
    assert err.value.temporary is temporary and err.value.endpoint == pin
    assert err.value.evidence["code"] == code and err.value.evidence["tap_code"] == code
    assert ok.evidence["tap_session"] == 1 and ch.sessions == 1
    assert term.sessions[0].rejected == [(pin, code)]


async def test_a_wrong_password_marks_the_channel_down(link):
    async with (
        TapTerminal(pty_link=link, baud=9600, config=TerminalConfig(password="SECRET")) as term,
        pty_channel(term, password="WRONG") as ch,
    ):
        await until(lambda: ch.health.state is HealthState.DOWN, "down after the probe")
        assert "logon refused" in ch.health.reason and "509" in ch.health.reason
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("1001"))
    assert err.value.temporary is True and err.value.evidence["code"] == "509"
    assert term.pages == [] and not any(s.logged_on for s in term.sessions)


async def test_the_right_password_logs_on(link):
    async with (
        TapTerminal(pty_link=link, baud=9600, config=TerminalConfig(password="SECRET")) as term,
        pty_channel(term, password="SECRET", probe_on_start=False) as ch,
    ):
        await ch.send(msg("1001"))
    assert term.sessions[0].logged_on and len(term.pages) == 1


async def test_a_silent_terminal_marks_the_channel_down_until_it_answers_again(link):
    async with (
        TapTerminal(pty_link=link, baud=9600, faults=Faults(silent=True)) as term,
        pty_channel(term, wake_tries=3) as ch,
    ):
        await until(lambda: ch.health.state is HealthState.DOWN, "down after the probe")
        assert ch.health.reason == "terminal silent: no ID= after 3 CRs"
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("1001"))
        assert err.value.temporary is True and err.value.evidence["code"] == "silent"
        term.faults.silent = False
        await until(lambda: ch.health.state is HealthState.UP, "up again after a recheck")
        assert (await ch.send(msg("1001"))).evidence["tap_code"] == "211"


async def test_a_dropped_line_fails_the_page_in_flight_and_the_next_call_works(link):
    async with (
        TapTerminal(pty_link=link, baud=9600, faults=Faults(drop_after_pages=1)) as term,
        pty_channel(term, probe_on_start=False, linger=1.0) as ch,
    ):
        await ch.send(msg("1001"))
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("1002"))
        assert err.value.temporary is True and err.value.evidence["code"] == "line_dropped"
        term.faults.drop_after_pages = None
        receipt = await ch.send(msg("1003"))  # a new session on the new pty behind the link
    assert receipt.evidence["tap_session"] == 2
    assert [p.pager_id for p in term.pages] == ["1001", "1003"]


async def test_the_terminal_session_limit_112_continues_in_a_new_session(link):
    async with (
        TapTerminal(pty_link=link, baud=9600, config=TerminalConfig(max_pages=5)) as term,
        pty_channel(term, probe_on_start=False) as ch,
    ):
        receipts = await asyncio.gather(*(ch.send(msg(f"{3000 + i}", i=i)) for i in range(8)))
    assert [s.pages for s in term.sessions] == [5, 3] and term.sessions[0].ended.startswith("112")
    assert [r.evidence["tap_session"] for r in receipts] == [1] * 5 + [2] * 3
    assert len({p.pager_id for p in term.pages}) == 8


async def test_tap_over_tcp():
    async with (
        TapTerminal(pty=False, tcp_port=0) as term,
        build("pager", {"host": "127.0.0.1", "port": term.tcp_port, **FAST}) as ch,
    ):
        await until(lambda: ch.health.state is HealthState.UP, "logged on over TCP")
        receipts = await asyncio.gather(*(ch.send(msg(f"{4000 + i}", i=i)) for i in range(3)))
    assert [r.evidence["tap_code"] for r in receipts] == ["211"] * 3
    assert len(term.sessions) == 1 and term.sessions[0].pages == 3


async def test_unreachable_tcp_terminal_is_down():
    async with TapTerminal(pty=False, tcp_port=0) as term:
        port = term.tcp_port
    async with build("pager", {"host": "127.0.0.1", "port": port, **FAST}) as ch:
        await until(lambda: ch.health.state is HealthState.DOWN, "down")
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("1001"))
    assert err.value.temporary is True and err.value.evidence["code"] == "connect"


async def test_through_a_hayes_modem_on_the_pty(link):
    modem = {"number": "5551234", "guard_time": 0.1, "hangup_wait": 0.5}
    async with (
        TapTerminal(pty_link=link, baud=9600, modem=True, connect_delay=0.05) as term,
        pty_channel(term, probe_on_start=False, modem=modem) as ch,
    ):
        receipt = await ch.send(msg("1001", "via modem"))
        await until(lambda: bool(term.sessions) and bool(term.sessions[0].ended), "hung up")
        await asyncio.sleep(0.5)
        await ch.send(msg("1002", "second call"))
    assert receipt.evidence["tap_code"] == "211"
    assert term.dialled == ["5551234", "5551234"]
    assert [p.text for p in term.pages] == ["via modem", "second call"]


async def test_a_busy_line_at_the_modem_is_down():
    term = TapTerminal(pty=False, tcp_port=0, modem=True, dial_result="BUSY", connect_delay=0.01)
    async with (
        term,
        build(
            "pager", {"host": "127.0.0.1", "port": term.tcp_port, "modem": {"number": "5551234"}, **FAST}
        ) as ch,
    ):
        await until(lambda: ch.health.state is HealthState.DOWN, "down")
        assert "BUSY" in ch.health.reason
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("1001"))
    assert err.value.evidence["code"] == "busy" and term.pages == []


def tcp_channel(term: TapTerminal, **extra: Any):
    return build(
        "pager", {"host": "127.0.0.1", "port": term.tcp_port, **FAST, "probe_on_start": False, **extra}
    )


@pytest.mark.parametrize(
    ("policy", "tap18", "pin", "code", "sent", "max_length"),
    [
        ("reject", True, "1001", "517", False, 80),  # TAP 1.8: the maximum comes with the code
        ("reject", False, "1001", "513", False, None),
        ("truncate", True, "1001", "214", True, 80),
        ("truncate", False, "1001", "212", True, None),
        ("reject", True, "2002", "213", True, None),  # short text, deferred delivery
    ],
)
async def test_the_terminals_length_and_deferral_codes(policy, tap18, pin, code, sent, max_length):
    config = TerminalConfig(max_length=80, length_policy=policy, tap18=tap18, deferred_ids={"2002"})
    text = "short" if pin == "2002" else "y" * 100
    async with (
        TapTerminal(pty=False, tcp_port=0, config=config) as term,
        tcp_channel(term, max_length=100) as ch,
    ):
        if sent:
            evidence = (await ch.send(msg(pin, text))).evidence
        else:
            with pytest.raises(ChannelError) as err:
                await ch.send(msg(pin, text))
            assert err.value.temporary is False
            evidence = err.value.evidence
    assert evidence["tap_code"] == code and evidence.get("tap_max_length") == max_length
    assert [p.code for p in term.pages] == ([code] if sent else [])


async def test_a_chatty_noisy_terminal_prompt_and_line_noise_are_ignored():
    config = TerminalConfig(id_prompt="PAGENET ALPHA ENTRY", id_cr=False)
    async with (
        TapTerminal(pty=False, tcp_port=0, config=config, faults=Faults(noise=True), seed=7) as term,
        tcp_channel(term) as ch,
    ):
        receipts = await asyncio.gather(*(ch.send(msg(f"{5000 + i}", i=i)) for i in range(3)))
    assert [r.evidence["tap_code"] for r in receipts] == ["211"] * 3 and len(term.pages) == 3


async def test_a_message_in_several_parts_goes_as_several_pages_in_order():
    async with TapTerminal(pty=False, tcp_port=0) as term, tcp_channel(term, max_parts=3) as ch:
        assert ch.capabilities.max_parts == 3
        parts = ("1/2 first half", "2/2 second half")
        m = OutboundMessage("1", "1001", parts, "INC-2026-000001", "P2", needs_ack=True)
        receipt = await ch.send(m)
    assert [p.text for p in term.pages] == list(parts) and receipt.evidence["tap_blocks"] == 2


async def test_an_invalid_pager_id_is_refused_without_a_call():
    async with TapTerminal(pty=False, tcp_port=0) as term, tcp_channel(term) as ch:
        with pytest.raises(ChannelError) as err:
            await ch.send(msg("10 01"))
    assert err.value.temporary is False and err.value.evidence["code"] == "address"
    assert term.sessions == []


async def test_a_line_that_drops_mid_batch_records_only_the_pages_the_terminal_took(link):
    """A batch of pages in one session and the line drops after two: a send returns a receipt
    only for a page the terminal answered 211 to (TAP 1.8 §3 step 9); each other one fails
    temporarily (or goes in a new session), so nothing is recorded `sent` that did not arrive."""
    async with (
        TapTerminal(pty_link=link, baud=9600, faults=Faults(drop_after_pages=2)) as term,
        pty_channel(term, probe_on_start=False) as ch,
    ):
        results = await asyncio.gather(
            *(ch.send(msg(f"{3000 + i}", f"page {i}", i)) for i in range(5)), return_exceptions=True
        )
    taken = [p.pager_id for p in term.pages]
    receipted = [f"{3000 + i}" for i, r in enumerate(results) if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, ChannelError) and e.temporary for e in failed)
    assert failed, "the drop must fail at least the page in flight"
    assert sorted(receipted) == sorted(taken)
    assert taken[:2] == ["3000", "3001"]
