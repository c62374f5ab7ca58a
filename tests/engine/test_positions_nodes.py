"""Several nodes on one PostgreSQL database: a fix applied on one node reaches the other's
resource directory through the resource row's change notification, and a status change written
later by the other node from an older read does not put the fix back."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from gateway.app import Gateway
from gateway.clock import ManualClock
from gateway.domain.states import UnitStatus
from tests.support.engine import make_settings, scripted_channels
from tests.support.pg import private_database
from tests.support.waiting import until


async def test_a_fix_on_one_node_reaches_the_other_nodes_directory():
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(private_database())
        nodes = []
        for _ in range(2):
            gw = await stack.enter_async_context(
                Gateway(make_settings(url), clock=ManualClock(), channels=scripted_channels())
            )
            await stack.enter_async_context(gw.running())
            nodes.append(gw)
        a, b = nodes
        await asyncio.sleep(0.3)  # both listening
        result = await b.positions.report(
            "ENG-1", 51.51, -0.12, observed_at=None, source="radio", actor="field:ENG-1"
        )
        assert result == "position"

        def seen() -> bool:
            unit = a.core.directory.get("ENG-1")
            return unit is not None and unit.position is not None and unit.position.lat == 51.51

        await until(seen, "node A's directory saw node B's fix")
        await a.units.set_unit_status("ENG-1", UnitStatus.EN_ROUTE, actor="node-a")
        await until(
            lambda: b.core.directory.get("ENG-1").status is UnitStatus.EN_ROUTE,  # type: ignore[union-attr]
            "node B saw node A's status",
        )
        for gw in nodes:
            unit = gw.core.directory.get("ENG-1")
            assert unit is not None and unit.position is not None and unit.position.lat == 51.51
