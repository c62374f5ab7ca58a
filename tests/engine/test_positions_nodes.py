"""Several nodes on one PostgreSQL database: a fix applied on one node reaches the other's
resource directory through the resource row's change notification, and a status change written
later by the other node from an older read does not put the fix back."""

from __future__ import annotations

from contextlib import AsyncExitStack

from gateway.domain.states import UnitStatus
from tests.support.engine import two_nodes
from tests.support.waiting import until


async def test_a_fix_on_one_node_reaches_the_other_nodes_directory():
    async with AsyncExitStack() as stack:
        a, b = await two_nodes(stack)
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
        for gw in (a, b):
            unit = gw.core.directory.get("ENG-1")
            assert unit is not None and unit.position is not None and unit.position.lat == 51.51
