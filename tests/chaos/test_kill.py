"""kill -9 of `callout run` mid-stream (issue 14): a bulk callout through the HTTP API, SIGKILL
when half the webhook messages have reached the field app, a restart, and then: nothing lost,
nothing stuck, nothing recorded as reached that the app never got, and the field app (which
honours Idempotency-Key) acting on no message twice. With `channel_in_flight = 1` at most one
copy per kill reaches the app again: the one send whose answer the killed process had not read;
whatever it had read is in the sent journal (gateway/engine/journal.py) and is not sent again."""

from __future__ import annotations

import pytest

from tests.support.chaos import StoreRef, kill_rounds
from tests.support.pg import private_database

ONE = "[delivery]\nchannel_in_flight = 1\n"


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_kill_9_mid_stream_loses_nothing_and_sends_at_most_one_copy_per_kill(store, tmp_path):
    if store == "postgres":
        async with private_database() as db:
            bounded = await kill_rounds(StoreRef(store, db, tmp_path), 2, units=60, extra=ONE)
    else:
        bounded = await kill_rounds(StoreRef(store, "", tmp_path), 2, units=60, extra=ONE)
    assert bounded.rounds == bounded.faults == 2 and bounded.accepted == 120
    assert (bounded.lost, bounded.stuck, bounded.not_reached, bounded.acted_twice) == (0, 0, 0, 0)
    assert bounded.duplicates <= bounded.faults, bounded  # the one send under way at each kill


async def test_kill_9_with_every_send_in_flight_still_loses_nothing(tmp_path):
    """The default: up to `concurrency` sends under way; the copies a kill causes are the
    receiver's to drop by key, and nothing is lost or recorded falsely."""
    fig = await kill_rounds(StoreRef("sqlite", "", tmp_path), 1)
    assert (fig.lost, fig.stuck, fig.not_reached, fig.acted_twice) == (0, 0, 0, 0)
    assert fig.recovered + fig.resent > 0  # the kill did catch sends in flight
