"""The scheduler: every target runs at once, never overlaps itself, and stops gracefully."""

from __future__ import annotations

import anyio

from worker.ports import RunSummary
from worker.runtime.scheduler import SyncScheduler, tick_seconds


async def test_each_target_runs_immediately_then_on_its_interval() -> None:
    seen: list[str] = []
    both = anyio.Event()

    async def cycle(name: str) -> RunSummary:
        seen.append(name)
        if len(seen) == 2:
            both.set()
        return RunSummary(status="succeeded")

    async with SyncScheduler(cycle, {"vox_v3/a": 3600, "sarvam/b": 3600}) as scheduler:
        assert scheduler.started.is_set()
        with anyio.fail_after(10):
            await both.wait()
    assert sorted(seen) == ["sarvam/b", "vox_v3/a"]


async def test_exit_waits_for_a_running_cycle_within_the_grace_period() -> None:
    entered, release = anyio.Event(), anyio.Event()
    finished: list[str] = []

    async def cycle(name: str) -> RunSummary:
        entered.set()
        await release.wait()
        finished.append(name)
        return RunSummary(status="succeeded")

    async with (
        anyio.create_task_group() as tg,
        SyncScheduler(cycle, {"vox_v3/a": 3600}, grace_seconds=30),
    ):
        with anyio.fail_after(10):
            await entered.wait()
        tg.start_soon(_set_later, release)  # released only once exit has begun
    assert finished == ["vox_v3/a"]


async def _set_later(event: anyio.Event) -> None:
    await anyio.lowlevel.checkpoint()
    event.set()


async def test_a_cycle_past_the_grace_period_is_cancelled() -> None:
    entered = anyio.Event()
    cancelled: list[str] = []

    async def cycle(name: str) -> RunSummary:
        entered.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(name)
            raise
        return RunSummary(status="succeeded")

    with anyio.fail_after(10):
        async with SyncScheduler(cycle, {"voxo/t": 3600}, grace_seconds=0):
            await entered.wait()
    assert cancelled == ["voxo/t"]


async def test_a_crashing_cycle_does_not_stop_the_scheduler() -> None:
    calls = anyio.Event()

    async def cycle(name: str) -> RunSummary:
        calls.set()
        raise RuntimeError("bug in one target")

    async with SyncScheduler(cycle, {"vox_v2/x": 3600}) as scheduler:
        with anyio.fail_after(10):
            await calls.wait()
        assert scheduler.running


async def test_a_tick_while_the_targets_cycle_runs_starts_no_second_one() -> None:
    entered, release = anyio.Event(), anyio.Event()
    calls: list[str] = []

    async def cycle(name: str) -> RunSummary:
        calls.append(name)
        entered.set()
        await release.wait()
        return RunSummary(status="succeeded")

    # A 2 s interval ticks every 0.5 s: several ticks land while the first cycle runs.
    async with SyncScheduler(cycle, {"vox_v3/a": 2}, grace_seconds=5) as scheduler:
        with anyio.fail_after(10):
            await entered.wait()
        ticked = anyio.Event()
        job = scheduler._scheduler.get_job("vox_v3/a")
        original = job.func

        async def counting(name: str) -> None:
            await original(name)
            ticked.set()

        job.modify(func=counting)
        with anyio.fail_after(10):
            await ticked.wait()  # a later tick ran, and returned at once
        assert calls == ["vox_v3/a"]
        release.set()


def test_ticks_are_a_quarter_interval_within_bounds() -> None:
    assert [tick_seconds(s) for s in (1, 2, 60, 600)] == [0.5, 0.5, 15.0, 15.0]
    assert tick_seconds(20) == 5.0
