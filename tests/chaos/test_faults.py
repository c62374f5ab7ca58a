"""One round of each fault (tests/support/chaos_faults.py) against `callout run` as a real
process: a bulk callout of 40 units whose first endpoint is the channel under fault and whose
second is a webhook backup. Whatever the fault, nothing accepted is lost or left stuck, nothing
is recorded as reached that its receiver did not get, and the field app acts on nothing twice.
(How late the P1 fallback comes is printed by `python -m benchmarks.chaos`, not asserted.)"""

from __future__ import annotations

import pytest

from tests.support.chaos import StoreRef
from tests.support.chaos_faults import fault_rounds
from tests.support.pg import private_database


@pytest.mark.parametrize(
    ("fault", "store"),
    [("webhook hang", "sqlite"), ("broker restart", "postgres"), ("SMSC drops the bind", "sqlite")],
)
async def test_a_fault_mid_stream_loses_nothing_and_records_nothing_false(fault, store, tmp_path):
    if store == "postgres":
        async with private_database() as db:
            fig = await fault_rounds(fault, StoreRef(store, db, tmp_path), 1)
    else:
        fig = await fault_rounds(fault, StoreRef(store, "", tmp_path), 1)
    assert fig.rounds == fig.faults == 1 and fig.accepted == 40, fig
    assert (fig.lost, fig.stuck, fig.not_reached, fig.acted_twice) == (0, 0, 0, 0), fig
    assert not fig.notes, fig.notes  # every delivery reached its backup in the round
