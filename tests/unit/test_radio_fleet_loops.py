"""The radio fleet's background loops: named, restarted after a crash, never cancelling the caller."""

from __future__ import annotations

import asyncio

from simulators.radio_fleet.loops import Loops


async def test_a_crashing_loop_is_restarted_and_never_cancels_the_caller() -> None:
    runs = 0
    again = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("simulator bug")
        again.set()
        await asyncio.Event().wait()

    async with Loops("radio_fleet.test", restart_after=0.01) as loops:
        task = loops.start("flaky", flaky)
        assert task.get_name() == "radio_fleet.test.flaky"
        await asyncio.wait_for(again.wait(), 2)
        await asyncio.sleep(0)  # the caller was not cancelled by the crash
    assert runs == 2 and task.cancelled()


async def test_leaving_cancels_every_loop_and_waits_for_it() -> None:
    async def idle() -> None:
        await asyncio.Event().wait()

    before = set(asyncio.all_tasks())
    async with Loops("radio_fleet.test") as loops:
        for k in range(3):
            loops.start(f"idle{k}", idle)
    assert set(asyncio.all_tasks()) == before
