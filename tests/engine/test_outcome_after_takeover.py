"""Several nodes: the outcome of a send whose attempt another node took over meanwhile (this node
was cut off from the database past its lease) is written down, never applied: a failure recorded
late must not reopen an attempt the other node is sending."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from adapters.errors import ChannelError
from gateway.app import Gateway
from gateway.clock import ManualClock
from gateway.domain.states import DeliveryState
from gateway.engine.outcomes import OutcomeRecorder
from gateway.engine.sending import Outcome
from gateway.store import schema as t
from tests.support.engine import FIRE, make_settings, scripted_channels


def _recorder(gw: Gateway, node: str) -> OutcomeRecorder:
    base = gw.engine.outcomes
    return OutcomeRecorder(
        store=gw.store,
        clock=gw.clock,
        settings=base.settings,
        metrics=gw.metrics,
        rng=base.rng,
        advance=base.advance,
        node=node,
    )


async def test_a_late_outcome_from_the_node_that_lost_the_lease_changes_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "c.db")
    async with Gateway(settings, clock=ManualClock(), channels=scripted_channels()) as gw:
        inc = await gw.incidents.create(FIRE, source="desk", actor="t")
        await gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="t")
        async with gw.store.write() as tx:
            (d,) = await tx.deliveries_for_incident(inc.id)
            (a,) = await tx.attempts_for([d.id])
            await tx.conn.execute(
                sa.update(t.attempts)
                .where(t.attempts.c.id == a.id)
                .values(state=DeliveryState.SENDING, lease_node="south", lease_expires_at=1e12)
            )
        failure = ChannelError("no route", channel="radio", temporary=True)
        await _recorder(gw, "north").record([Outcome(a.id, "radio", error=failure)])
        async with gw.store.read() as tx:
            (after,) = await tx.attempts_by_ids([a.id])
            kinds = [e["kind"] for e in await tx.audit_for_incident(inc.id)]
        assert after.state is DeliveryState.SENDING and after.tries == 0  # south's send stands
        assert "attempt.outcome_after_takeover" in kinds

        await _recorder(gw, "south").record([Outcome(a.id, "radio", error=failure)])
        async with gw.store.read() as tx:
            (after,) = await tx.attempts_by_ids([a.id])
        assert after.state is DeliveryState.FAILED_TEMPORARY and after.tries == 1  # the holder's own
