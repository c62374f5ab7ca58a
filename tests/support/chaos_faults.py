"""Chaos rounds for faults other than kill -9 (see tests/support/chaos.py for the figures).

Every unit has two endpoints: first the channel under test (its simulator, with the fault the
simulator already offers), then a webhook `backup` to a field app. No receiver acknowledges, so
every P1 delivery must reach its backup `ack_deadline` after dispatch (P1 is a ladder here, see
SITE); how much later than that it got there is the "P1 fallback beyond the deadline". A fault
that makes the first channel fail delays that by the retries the engine spends on it, which
is what the figure shows.

Faults (each the simulator's own option): `broker` a private mosquitto without persistence
restarted (simulators/radio_fleet/broker.py); `smsc` the SMSC dropping every bind
(Smsc.drop_connections); `modem` the GSM modem on its pseudo-terminal silent for three seconds
(GsmModem.silence: AT time-outs, the modem benched and reopened); `webhook` a field app that
takes requests and never answers for two seconds (FieldApp behaviour `hang`); `pg` the private
PostgreSQL server stopped for two seconds (tests/support/pg_server.py); KILL the daemon killed
with SIGKILL and started again (tests/support/chaos.py has the kill rounds that count copies).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from simulators.gsm_modem.device import GsmModem
from simulators.radio_fleet import PrivateBroker, RadioFleet
from simulators.radio_fleet.fleet import Faults as RadioFaults
from simulators.smsc import Smsc
from tests.support import cluster
from tests.support.chaos import OPEN, Figures, KeyedApp, StoreRef, judge, page_all
from tests.support.daemon import TOKEN, Daemon, start
from tests.support.pg_server import PgServer

UNITS = 40
KILL = "kill -9, P1 fallback"  # SIGKILL and a restart, with the ladder's timers to resume
ACK_DEADLINE = 3.0
PRIORITIES = "\n".join(
    f'[triage.targets.{p}]\nresponse_target = 480\nmode = "ladder"\nconfirm_timeout = 2\n'
    f"ack_deadline = {ACK_DEADLINE}\n"
    for p in ("P1", "P2", "P3", "P4")
)
SITE = f"""
[delivery]
max_retries = 2
retry_base = 0.5
retry_jitter = 0.0
{PRIORITIES}
"""


@dataclass
class Primary:
    """The channel under test: its [[channels]] entry, an address per unit, and copies got."""

    channel: str  # TOML of the [[channels]] table, named "primary"
    address: Callable[[int], str]
    copies: Callable[[], Counter[str]]  # address -> copies the simulator got
    repeats_dropped: Callable[[], int] = lambda: 0  # copies a receiver knew by id and dropped


def _site(ref: StoreRef, primary: Primary, backup_url: str) -> str:
    units = "".join(
        f'[[resources]]\nid = "U{i:03d}"\ncapabilities = ["fire"]\ncontact_plan = ['
        f'{{ channel = "primary", address = "{primary.address(i)}" }}, '
        f'{{ channel = "backup", address = "B{i:03d}" }}]\n'
        for i in range(1, UNITS + 1)
    )
    folder = f'data_dir = "{ref.data_dir}"\n'
    return (
        f'[store]\nurl = "{ref.url}"\n{folder}\n'
        f'[api]\ntokens = [{{ name = "desk", role = "supervisor", token = "{TOKEN}" }}]\n\n'
        f"{primary.channel}\n"
        f'[[channels]]\nname = "backup"\nkind = "webhook"\n'
        f'options = {{ url = "{backup_url}/backup/{{address}}" }}\n\n'
        f"{SITE}\n{units}"
    )


# ---- the faults ---------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def webhook_hang() -> AsyncIterator[tuple[Primary, Callable[[], Any]]]:
    async with KeyedApp(default="silent") as app:

        async def inject() -> None:
            app.default = "hang"
            await asyncio.sleep(2.0)
            app.default = "silent"

        yield (
            Primary(
                channel=f'[[channels]]\nname = "primary"\nkind = "webhook"\n'
                f'options = {{ url = "{app.url}/app/{{address}}", timeout = 1.0 }}\n',
                address=lambda i: f"A{i:03d}",
                copies=lambda: app.by_address,  # every copy, those the app dropped by key too
            ),
            inject,
        )


@contextlib.asynccontextmanager
async def broker_restart() -> AsyncIterator[tuple[Primary, Callable[[], Any]]]:
    async with (
        PrivateBroker(persistence=False) as broker,
        RadioFleet(
            broker=broker.url,
            count=UNITS,
            prefix="chaos",
            ack_delay=0.0,
            walk_delay=None,
            faults=RadioFaults(never_ack=True),
        ) as fleet,
    ):

        def copies() -> Counter[str]:
            return Counter({r.id: len(r.received) for r in fleet.radios.values()})

        yield (
            Primary(
                channel=f'[[channels]]\nname = "primary"\nkind = "mqtt_radio"\n'
                f'options = {{ broker = "{broker.url}", prefix = "chaos", presence_wait = 1.0 }}\n',
                address=lambda i: f"R{i}",
                copies=copies,
                repeats_dropped=lambda: fleet.stats.duplicates,
            ),
            lambda: broker.restart(down_for=1.0),
        )


@contextlib.asynccontextmanager
async def smsc_drop() -> AsyncIterator[tuple[Primary, Callable[[], Any]]]:
    async with Smsc(submit_delay=0.05, receipt_delay=0.2) as sim:

        async def inject() -> None:
            sim.drop_connections()

        yield (
            Primary(
                channel=f'[[channels]]\nname = "primary"\nkind = "smpp"\noptions = {{ port = {sim.port}, '
                f'system_id = "callout", password = "secret", send_timeout = 1.0 }}\n',
                address=lambda i: f"+4477009{i:05d}",
                # SMPP carries the number without "+" (TON international, §5.2.5)
                copies=lambda: Counter("+" + s.destination.lstrip("+") for s in sim.submits),
            ),
            inject,
        )


@contextlib.asynccontextmanager
async def modem_silence() -> AsyncIterator[tuple[Primary, Callable[[], Any]]]:
    async with GsmModem(send_latency=0.02) as sim:

        async def inject() -> None:
            sim.silence(3.0)

        yield (
            Primary(
                channel=f'[[channels]]\nname = "primary"\nkind = "sms_modem"\noptions = {{ modems = [{{ '
                f'name = "m1", device = "{sim.device}" }}], command_timeout = 1.0, send_timeout = 1.0, '
                "send_deadline = 2.0, probe_timeout = 0.5, reset_wait = 5.0, retry_base = 1.0 }\n",
                address=lambda i: f"+4477009{i:05d}",
                copies=lambda: Counter(r.destination for r in sim.received),
            ),
            inject,
        )


FAULTS = {
    "webhook hang": webhook_hang,
    "broker restart": broker_restart,
    "SMSC drops the bind": smsc_drop,
    "modem silence": modem_silence,
}


# ---- a round ------------------------------------------------------------------------------------
async def _settled(ref: StoreRef, incident: str, timeout: float) -> list[dict[str, Any]]:
    """Every delivery at its backup (or closed) and no attempt open, or as things are at `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await ref.attempts([incident])
        by_delivery = Counter(r["delivery_id"] for r in rows)
        done = all(n >= 2 for n in by_delivery.values()) and not any(r["state"] in OPEN for r in rows)
        if done or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.2)


async def _primary_up(daemon: Daemon, fig: Figures, timeout: float = 20) -> None:
    """Each round starts with the channel under test up again (GET /api/v1/channels): a modem
    benched by the last round's silence is reopened first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        channels = await cluster.acall(daemon, "GET", "/api/v1/channels")
        if all(ch["health"]["state"] == "up" for ch in channels if ch["name"] == "primary"):
            return
        await asyncio.sleep(0.2)
    fig.notes.append(f"the first channel was not up {timeout:g} s after the last round")


async def fault_rounds(
    fault: str, ref: StoreRef, rounds: int, *, pg: PgServer | None = None, settle: float = 45
) -> Figures:
    """`rounds` rounds of one fault on one store: a bulk callout of UNITS, the fault injected once
    a third reached the first channel, then everything left to settle. `fault`: a FAULTS key,
    KILL, or "PostgreSQL restart" (needs `pg`, the private server `ref` points at)."""
    fig = Figures(fault, ref.name)
    maker = FAULTS.get(fault, webhook_hang)  # the others fault the daemon or store, not the webhook
    async with maker() as (primary, inject), KeyedApp(default="silent") as backup:
        if fault == "PostgreSQL restart":
            assert pg is not None

            async def inject() -> None:
                await asyncio.to_thread(pg.stop)
                await asyncio.sleep(2.0)
                await asyncio.to_thread(pg.start)

        elif fault == KILL:

            async def inject() -> None:
                nonlocal daemon
                daemon.kill()
                daemon = await asyncio.to_thread(start, cfg)

        cfg = ref.data_dir / "site.toml"
        cfg.write_text(_site(ref, primary, backup.url))
        daemon = await asyncio.to_thread(start, cfg)
        try:
            await asyncio.sleep(1.0)  # the channels are up, the radios announced
            for _ in range(rounds):
                await _primary_up(daemon, fig)
                base = Counter(primary.copies())
                base_dropped, base_backup = primary.repeats_dropped(), Counter(backup.by_address)
                backup.first_at.clear()
                incident, paged = await page_all(daemon, UNITS)
                dispatched = time.monotonic()
                fig.accepted += paged
                while sum((primary.copies() - base).values()) < UNITS // 3:
                    if time.monotonic() > dispatched + 20:
                        fig.notes.append("the first channel never got a third of the round")
                        break
                    await asyncio.sleep(0.005)
                await inject()
                fig.faults += 1
                rows = await _settled(ref, incident, settle)
                got = primary.copies() - base
                got_backup = backup.by_address - base_backup

                def copies(r: dict[str, Any]) -> int:
                    return got[r["address"]] if r["channel"] == "primary" else got_backup[r["address"]]

                judge(fig, rows, copies)
                fig.duplicates += sum(n - 1 for n in got.values() if n > 1)
                fig.duplicates += sum(n - 1 for n in got_backup.values() if n > 1)
                fig.duplicates += primary.repeats_dropped() - base_dropped
                fig.late_ms += [
                    max(0.0, (at - dispatched - ACK_DEADLINE) * 1000) for at in backup.first_at.values()
                ]
                missing = paged - len(backup.first_at)
                if missing:
                    fig.notes.append(f"{missing} deliveries never reached their backup in {settle:g} s")
                fig.rounds += 1
        finally:
            await asyncio.to_thread(daemon.stop)
    return fig


@contextlib.asynccontextmanager
async def private_pg_server() -> AsyncIterator[PgServer]:
    """A private PostgreSQL server for the restart fault (it is stopped under the daemon)."""
    pg = PgServer()
    try:
        await asyncio.to_thread(pg.start)
        yield pg
    finally:
        await asyncio.to_thread(pg.remove)
