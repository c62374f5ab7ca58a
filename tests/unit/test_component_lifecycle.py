"""The lifecycle skeleton every channel and CTI source shares (adapters/base.py `Component`)."""

from __future__ import annotations

import asyncio

import pytest

from adapters.base import Component, HealthState
from tests.support.health import health_log


class Looper(Component):
    kind = "looper"
    restart_first = 0.01
    restart_cap = 0.05

    def __init__(self, *, crash_times: int = 0, fail_open: bool = False) -> None:
        super().__init__(name="l1")
        self.crash_times = crash_times
        self.fail_open = fail_open
        self.runs = 0
        self.closed_while_running: bool | None = None
        self.loop_cancelled = asyncio.Event()

    async def _open(self) -> None:
        if self.fail_open:
            raise OSError("no such device")
        self.start_task("loop", self._loop)
        self.set_health(HealthState.UP, "open")

    async def _close(self) -> None:
        task = self._children["loop"]
        self.closed_while_running = not task.done()

    async def _loop(self) -> None:
        self.runs += 1
        if self.runs <= self.crash_times:
            raise RuntimeError(f"boom {self.runs}")
        self.set_health(HealthState.UP, f"run {self.runs}")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.loop_cancelled.set()
            raise


async def until(cond, what: str, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.005)
    assert cond(), what


async def test_a_crashed_child_marks_down_and_restarts_without_touching_the_owner():
    comp = Looper(crash_times=2)
    async with health_log(comp) as changes:
        async with comp:
            await until(lambda: comp.runs == 3 and comp.health.reason == "run 3", "third run up")
            assert asyncio.current_task() is not None and not asyncio.current_task().cancelling()
        await asyncio.sleep(0)
    reasons = [h.reason for h in changes]
    downs = [h for h in changes if h.state is HealthState.DOWN]
    assert any("looper.l1.loop crashed: RuntimeError: boom 1" in r for r in reasons)
    assert any("boom 2" in h.reason for h in downs)
    assert changes[-1].state is HealthState.UP and changes[-1].reason == "run 3"


async def test_close_runs_while_children_live_then_cancels_them():
    comp = Looper()
    async with comp:
        await until(lambda: comp.runs == 1, "loop started")
    assert comp.closed_while_running is True
    assert comp.loop_cancelled.is_set()
    assert comp.closing


async def test_a_failing_open_raises_and_leaves_nothing_running():
    comp = Looper(fail_open=True)
    before = set(asyncio.all_tasks())
    with pytest.raises(OSError, match="no such device"):
        async with comp:
            pass
    assert set(asyncio.all_tasks()) == before
    with pytest.raises(RuntimeError, match="before the component is open"):
        comp.start_task("late", comp._loop)


async def test_health_feed_sees_changes_made_before_its_first_await_and_stops_after_close():
    comp = Looper()
    feed = comp.health_changes()
    comp.set_health(HealthState.DEGRADED, "slow")
    comp.set_health(HealthState.DEGRADED, "slow")  # no change, no event
    comp.set_health(HealthState.UP, "fine")
    assert [h.reason for h in [await anext(feed), await anext(feed)]] == ["slow", "fine"]
    feed.close()
    comp.set_health(HealthState.DOWN, "gone")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await anext(feed)


async def test_a_child_that_returns_is_not_restarted():
    comp = Looper()
    done: list[int] = []

    async def once() -> None:
        done.append(1)

    async with comp:
        comp.start_task("once", once)
        await asyncio.sleep(0.1)
    assert done == [1]
