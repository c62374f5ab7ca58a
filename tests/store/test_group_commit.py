"""Group commit on SQLite (gateway/store/group_commit.py): writers queued together share a commit,
a failing body loses only its own changes, and nothing is published or returned before the sync."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.bus import Bus
from gateway.clock import ManualClock
from gateway.store import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}", bus=Bus(), clock=ManualClock()) as s:
        yield s


def _group(store: Store):  # type: ignore[no-untyped-def]
    assert store._group is not None
    return store._group


async def _kinds(store: Store) -> list[str]:
    async with store.read() as tx:
        return [row["kind"] for row in await tx.audit_since(0, limit=10_000)]


async def test_writers_queued_together_commit_together_and_all_land(store: Store) -> None:
    group = _group(store)
    before = group.commits

    async def write(i: int) -> None:
        async with store.write(urgent=i % 3 == 0) as tx:
            await tx.record(f"w{i}", data={})

    await asyncio.gather(*(write(i) for i in range(40)))
    assert sorted(await _kinds(store)) == sorted(f"w{i}" for i in range(40))
    assert group.commits - before < 40  # shared commits, not one each
    assert group.bodies >= 40


async def test_a_failing_body_loses_only_its_own_changes(store: Store) -> None:
    async def good(i: int) -> None:
        async with store.write() as tx:
            await tx.record(f"good{i}", data={})
            await asyncio.sleep(0)

    async def bad() -> None:
        async with store.write() as tx:
            await tx.record("bad", data={})
            raise ValueError("refused")

    results = await asyncio.gather(good(0), bad(), good(1), bad(), good(2), return_exceptions=True)
    names = [type(r).__name__ for r in results]
    assert names == ["NoneType", "ValueError", "NoneType", "ValueError", "NoneType"]
    assert sorted(await _kinds(store)) == ["good0", "good1", "good2"]


async def test_each_member_returns_only_after_the_commit_and_its_events_are_out(store: Store) -> None:
    sub = store.bus.subscribe()
    seen_on_return: dict[str, bool] = {}

    async def write(i: int) -> None:
        async with store.write() as tx:
            await tx.record(f"e{i}", data={})
        # Returned: the row is readable from another connection and the event is on the bus.
        async with store.read() as r:
            seen_on_return[f"e{i}"] = f"e{i}" in [row["kind"] for row in await r.audit_since(0)]

    await asyncio.gather(*(write(i) for i in range(10)))
    assert seen_on_return == {f"e{i}": True for i in range(10)}
    published = []
    while not sub._queue.empty():
        event = await sub.get()
        assert event is not None
        published.append(event.kind)
    assert sorted(published) == sorted(f"e{i}" for i in range(10))


async def test_a_leader_cancelled_in_its_body_still_commits_the_writers_behind_it(store: Store) -> None:
    lead_done = asyncio.Event()

    async def leader() -> None:
        async with store.write() as tx:
            await tx.record("leader", data={})
            lead_done.set()
            await asyncio.sleep(0.05)  # followers queue meanwhile

    async def follower(i: int) -> None:
        await lead_done.wait()
        async with store.write() as tx:
            await tx.record(f"f{i}", data={})

    lead = asyncio.create_task(leader())
    followers = [asyncio.create_task(follower(i)) for i in range(5)]
    await lead_done.wait()
    await asyncio.sleep(0.01)
    lead.cancel()
    await asyncio.gather(*followers)
    with pytest.raises(asyncio.CancelledError):
        await lead
    kinds = await _kinds(store)
    assert sorted(kinds) == sorted(f"f{i}" for i in range(5))  # the cancelled body rolled back


async def test_a_cancelled_follower_loses_its_changes_and_the_group_commits(store: Store) -> None:
    started = asyncio.Event()

    async def leader() -> None:
        async with store.write() as tx:
            await tx.record("leader", data={})
            started.set()
            await asyncio.sleep(0.02)

    async def slow_follower() -> None:
        await started.wait()
        async with store.write() as tx:
            await tx.record("slow", data={})
            await asyncio.sleep(10)

    lead = asyncio.create_task(leader())
    slow = asyncio.create_task(slow_follower())
    await started.wait()
    await asyncio.sleep(0.05)
    slow.cancel()
    await lead
    with pytest.raises(asyncio.CancelledError):
        await slow
    async with store.write() as tx:  # the lock is free again
        await tx.record("after", data={})
    assert await _kinds(store) == ["leader", "after"]
