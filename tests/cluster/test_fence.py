"""The fence's reckoning (gateway/cluster/fence.py) on a manual clock: when a send may start, when
one under way is stopped, and when the node is fenced and resumes. The store is not involved (a
fence needs nothing from it); tests/cluster/test_fencing.py cuts a real node off."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from gateway.clock import ManualClock
from gateway.cluster.fence import Fence, Fenced

LEASE, MARGIN = 10.0, 1.0


def _fence(clock: ManualClock) -> Fence:
    return Fence(clock=clock, node="north", lease_seconds=LEASE, margin=MARGIN)


async def test_a_node_is_fenced_until_a_heartbeat_commits_and_once_it_is_too_old() -> None:
    clock = ManualClock(start=1000.0)
    fence = _fence(clock)
    assert fence.fenced()  # no heartbeat yet
    fence.beat_ok(1000.0)
    clock.advance(LEASE - MARGIN - 0.1)
    assert not fence.fenced()
    clock.advance(0.1)
    assert fence.fenced()
    fence.beat_ok(clock.now())
    assert not fence.fenced()


async def test_a_lease_from_a_claim_older_than_the_heartbeat_counts_from_the_claim() -> None:
    """The claim began at 999 (its lease expires at 1009), its result arrived after the heartbeat
    of 1000 began, so that heartbeat may not have renewed it: the send must end by 1008."""
    clock = ManualClock(start=1000.5)
    fence = _fence(clock)
    fence.beat_ok(1000.0)
    fence.leased([7], basis=999.0)
    assert fence.deadline(7) == 999.0 + LEASE - MARGIN
    assert fence.deadline(8) == 1000.0 + LEASE - MARGIN  # leased since the heartbeat began
    fence.beat_ok(1001.0)  # began after the claim committed: renewed
    assert fence.deadline(7) == 1001.0 + LEASE - MARGIN


async def test_no_send_starts_once_its_lease_may_lapse() -> None:
    clock = ManualClock(start=1000.0)
    fence = _fence(clock)
    fence.beat_ok(1000.0)
    clock.advance(LEASE - MARGIN)
    with pytest.raises(Fenced):
        async with fence.sending(7):
            raise AssertionError("sent while fenced")
    assert fence.abandoned == {7}
    fence.beat_ok(clock.now())
    fence.given_up([7])  # the heartbeat gave the lease up
    assert fence.abandoned == set()


async def test_a_send_under_way_is_stopped_when_its_lease_may_lapse() -> None:
    clock = ManualClock(start=1000.0)
    fence = _fence(clock)
    fence.beat_ok(1000.0)
    watchdog = asyncio.ensure_future(fence.run())
    hanging = asyncio.Event()

    async def send() -> str:
        try:
            async with fence.sending(7):
                hanging.set()
                await asyncio.Event().wait()  # a channel that never answers
        except Fenced:
            return "stopped"
        return "ended"

    sender = asyncio.ensure_future(send())
    try:
        await asyncio.wait_for(hanging.wait(), 5)
        clock.advance(LEASE - MARGIN - 0.5)
        await asyncio.sleep(0.05)
        assert not sender.done()
        clock.advance(0.5)
        assert await asyncio.wait_for(sender, 5) == "stopped"
        assert fence.abandoned == {7} and fence.trips == 1
    finally:
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog


async def test_a_send_cancelled_for_another_reason_is_not_taken_for_fenced() -> None:
    clock = ManualClock(start=1000.0)
    fence = _fence(clock)
    fence.beat_ok(1000.0)
    started = asyncio.Event()

    async def send() -> None:
        async with fence.sending(7):
            started.set()
            await asyncio.Event().wait()

    sender = asyncio.ensure_future(send())
    await asyncio.wait_for(started.wait(), 5)
    sender.cancel()  # the daemon stopping
    with pytest.raises(asyncio.CancelledError):
        await sender
    assert fence.abandoned == set()
