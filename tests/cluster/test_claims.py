"""The lease queries on a private PostgreSQL database: two nodes' transactions claiming at once
get disjoint attempts (their deliveries locked FOR UPDATE SKIP LOCKED), and only a lapsed lease
is claimable."""

from __future__ import annotations

from pathlib import Path

from gateway.app import Gateway
from gateway.domain.states import DeliveryState
from gateway.services.callout import Selection
from tests.support.engine import FIRE, make_settings, scripted_channels
from tests.support.pg import private_database


async def test_two_claims_at_once_never_take_the_same_attempt(tmp_path: Path) -> None:
    async with private_database() as db:
        settings = make_settings(db)
        async with Gateway(settings, channels=scripted_channels()) as gw:
            inc = await gw.incidents.create({**FIRE, "impact": 3}, source="desk", actor="test")
            await gw.callout.callout(inc.reference, Selection("resources", ["ENG-1", "ENG-2"]), actor="test")
            now = gw.clock.now() + 1
            async with gw.store.write() as first:
                mine = await first.due_attempts(now, 1, {"radio"}, skip_locked=True)
                async with gw.store.write() as second:
                    theirs = await second.due_attempts(now, 10, {"radio"}, skip_locked=True)
                    not_hosted = await second.due_attempts(now, 10, {"sms"}, skip_locked=True)
                    assert not_hosted == []
            assert len(mine) == 1 and len(theirs) == 1
            assert mine[0].id != theirs[0].id

            async with gw.store.write() as tx:
                a = (await tx.attempts_by_ids([mine[0].id]))[0]
                a.state = DeliveryState.SENDING
                await tx.update_attempt(a)
                await tx.hold_leases([a.id], node="north", until=now + 10)
            async with gw.store.write() as tx:
                assert await tx.claim_lapsed(now + 5, 10, {"radio"}, node="south") == []  # still held
                assert await tx.claim_lapsed(now + 5, 10, {"radio"}, node="north", own=True) != []
            async with gw.store.write() as tx:
                lapsed = await tx.claim_lapsed(now + 11, 10, {"radio"}, node="south")
                assert [(x.id, holder) for x, holder in lapsed] == [(a.id, "north")]
