"""Several pages per write transaction (``sync.batches``), written behind the listing
(``sync.write_behind``), and the vanish check a clean listing skips, on the memory store."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from tests.fast.planning import T0, vox, voxo
from tests.fast.test_pipeline import ListedSource
from tests.fast.test_prefetch import TickingClock
from tests.fast.test_unchanged_cycles import VOXO, CountingStore, FailingSource, VoxoListing
from worker.clock import ManualClock
from worker.domain.campaign import Campaign, TargetKey
from worker.domain.dialects import VoxV3Dialect
from worker.errors import StorageError
from worker.memory import MemoryStore
from worker.ports import Detail, Provider, RawRecord, RunSummary
from worker.sync.batches import GATHER_FROM
from worker.sync.pipeline import CycleLimits, CyclePolicy, SyncPipeline
from worker.sync.write_behind import write_behind

VOX = VoxV3Dialect(account="acme")


class IdCountingStore(CountingStore):
    async def listed_ids(self, target: TargetKey, *, after: str, limit: int) -> Sequence[str]:
        self.calls["listed_ids"] += 1
        return await super().listed_ids(target, after=after, limit=limit)


def policy(write_chunk: int = 1000, batch_wait: float = 1.0) -> CyclePolicy:
    return CyclePolicy(
        interval=60, limits=CycleLimits(write_chunk=write_chunk, batch_wait=batch_wait)
    )


async def sync(
    pipeline: SyncPipeline, source: Any, clock: ManualClock, chosen: CyclePolicy
) -> RunSummary:
    clock.advance(timedelta(minutes=1))
    return await pipeline.sync_once(Provider(source=source, dialect=VOX), chosen)


def fleet(pages: int, per_page: int = 3) -> list[list[RawRecord]]:
    return [[vox(f"{p}-{n}") for n in range(per_page)] for p in range(pages)]


async def test_consecutive_pages_share_transactions_of_write_chunk_records() -> None:
    store, clock = CountingStore(), ManualClock(T0)
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    run = await sync(pipeline, ListedSource(fleet(3)), clock, policy(write_chunk=4))
    # 3 + 3 records fill a batch of 4 (written as 4 and 2), the last page's 3 end the listing.
    assert store.calls["page"] == 3
    assert (run.status, run.pages, run.records, run.changed) == ("succeeded", 3, 9, 9)
    assert store.rows()[0] == 9


async def test_a_batch_is_written_batch_wait_after_its_first_record_though_no_page_comes() -> None:
    clock = ManualClock(T0)
    release, written = anyio.Event(), anyio.Event()

    class SignallingStore(CountingStore):
        def page(self, *args: Any, **kw: Any) -> Any:
            written.set()
            return super().page(*args, **kw)

    class StallingSource(ListedSource):
        async def _pages(self) -> AsyncIterator[Sequence[RawRecord]]:
            yield self.listed[0]
            await release.wait()  # the provider stalls before its second page
            yield self.listed[1]

    store = SignallingStore()
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    runs: list[RunSummary] = []

    async def run() -> None:
        runs.append(await sync(pipeline, StallingSource(fleet(2)), clock, policy(batch_wait=0.01)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        with anyio.fail_after(10):
            await written.wait()
        await wait_all_tasks_blocked()
        assert store.rows()[0] == 3  # the first page, while the provider still stalls
        release.set()
    assert (runs[0].changed, store.calls["page"]) == (6, 2)


async def test_a_batch_wait_of_0_writes_each_page_alone() -> None:
    store, clock = CountingStore(), ManualClock(T0)
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    run = await sync(pipeline, ListedSource(fleet(3)), clock, policy(batch_wait=0))
    assert (run.changed, store.calls["page"]) == (9, 3)


async def test_the_pages_before_a_failed_page_are_still_written() -> None:
    store, clock = CountingStore(), ManualClock(T0)
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    run = await sync(pipeline, FailingSource(fleet(3)), clock, policy())
    assert (run.status, run.pages, run.changed) == ("failed", 2, 6)
    assert "the list failed" in str(run.error)
    assert store.rows()[0] == 6


async def test_a_failed_write_fails_the_cycle_with_its_own_error() -> None:
    class BrokenStore(CountingStore):
        def page(self, *args: Any, **kw: Any) -> Any:
            raise StorageError("the database went away")

    store, clock = BrokenStore(), ManualClock(T0)
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    run = await sync(pipeline, ListedSource(fleet(4)), clock, policy(write_chunk=3))
    assert (run.status, run.changed) == ("failed", 0)
    assert run.error is not None and "the database went away" in run.error


async def test_schema_drift_is_reported_once_though_its_batch_is_written_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, clock = CountingStore(), ManualClock(T0)
    pages = [[vox("1", colour="red"), vox("2"), vox("3")], [vox("4", colour="blue"), vox("5")]]
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    with caplog.at_level(logging.WARNING):
        run = await sync(pipeline, ListedSource(pages), clock, policy(write_chunk=3))
    assert run.changed == 5 and store.calls["page"] == 2
    drift = [r for r in caplog.records if getattr(r, "event", None) == "sync.schema_drift"]
    assert len(drift) == 1


async def test_a_clean_listing_of_every_stored_campaign_reads_no_ids_back() -> None:
    store, clock = IdCountingStore(), ManualClock(T0)
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    source = ListedSource(fleet(3))
    await sync(pipeline, source, clock, policy())
    store.calls.clear()
    quiet = await sync(pipeline, source, clock, policy())
    assert (quiet.vanished, store.calls["listed_ids"]) == (0, 0)
    source.listed[2] = source.listed[2][:2]  # "2-2" is gone
    gone = await sync(pipeline, source, clock, policy())
    assert (gone.vanished, store.calls["listed_ids"]) == (1, 2)


async def test_a_quarantined_new_record_does_not_hide_a_missing_one() -> None:
    store, clock = IdCountingStore(), ManualClock(T0)
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    source = ListedSource(fleet(2))
    await sync(pipeline, source, clock, policy())
    # As many records listed as stored: "1-2" is missing, a poison record "9" is new.
    source.listed[1][2] = vox("9", name="x" * 100_000)
    run = await sync(pipeline, source, clock, policy())
    assert (run.rejected, run.vanished) == (1, 1)


async def test_write_behind_runs_jobs_in_order_and_raises_a_failed_one_unwrapped() -> None:
    done: list[int] = []

    def job(n: int) -> Any:
        async def run() -> None:
            if n == 2:
                raise StorageError("job 2 failed")
            done.append(n)

        return run

    async def submit_all(numbers: range) -> None:
        async with write_behind(depth=1) as submit:
            for n in numbers:
                await submit(job(n))

    await submit_all(range(2))
    assert done == [0, 1]
    with pytest.raises(StorageError, match="job 2 failed"):
        await submit_all(range(2, 10))
    assert done == [0, 1]  # nothing ran after the failed job


class AheadSource(ListedSource):
    """Pages whose requests went out ``ahead`` pages early, as Sarvam's window sends them."""

    ahead: int = 0

    @property
    def pages_ahead(self) -> int:
        return self.ahead


@pytest.mark.parametrize(("ahead", "dated_by"), [(0, [0, 1, 2, 3]), (2, [0, 0, 0, 1])])
async def test_a_page_requested_ahead_is_dated_no_later_than_its_request(
    ahead: int, dated_by: list[int]
) -> None:
    """Page k of a source that asks ``ahead`` pages early is observed when page k - ahead
    was asked for (the pipeline's clock ticks at every reading, so every ask differs)."""
    store, clock, lease_clock = MemoryStore(), TickingClock(T0), ManualClock(T0)
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=lease_clock)
    source = AheadSource(fleet(4, per_page=1))
    source.ahead = ahead
    run = await pipeline.sync_once(Provider(source=source, dialect=VOX), policy(batch_wait=0))
    assert run.status == "succeeded"
    detected = {row.event.key.campaign_id: row.event.detected_at for row in store.state.outbox()}
    at = [detected[f"{page}-0"] for page in range(4)]
    assert [at.index(instant) for instant in at] == [
        dated_by.index(ask) for ask in dated_by
    ]  # the same ask, the same instant; a later ask, a later one
    assert at == sorted(at)


async def test_the_event_loop_runs_other_tasks_while_a_batch_is_planned() -> None:
    # Reading a batch of a thousand records takes tens of milliseconds of CPU: on the
    # event loop, the write of the batch before it, the fetches ahead and the lease
    # renewals would all wait for it. The first record's reading rules here hold on
    # until a task of the loop answers them: they are answered only if the loop runs.
    loop = asyncio.get_running_loop()
    asked, answered = anyio.Event(), threading.Event()
    held: list[bool] = []

    class WaitingDialect(VoxV3Dialect):
        def normalize(self, raw: RawRecord, *, observed_at: datetime) -> Campaign:
            if not held:
                loop.call_soon_threadsafe(asked.set)
                held.append(answered.wait(timeout=5))
            return super().normalize(raw, observed_at=observed_at)

    async def answer() -> None:
        await asked.wait()
        answered.set()

    store, clock = CountingStore(), ManualClock(T0)
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    clock.advance(timedelta(minutes=1))
    async with anyio.create_task_group() as tg:
        tg.start_soon(answer)
        run = await pipeline.sync_once(
            Provider(source=ListedSource(fleet(2)), dialect=WaitingDialect(account="acme")),
            policy(),
        )
    assert held == [True]
    assert (run.status, run.changed, run.rejected) == ("succeeded", 6, 0)


async def test_a_page_s_details_are_read_while_the_listing_goes_on() -> None:
    # VOXO lists less than its details: a batch of changed campaigns waited for its
    # details until it was written (full, timed out or the listing's end). Here the
    # provider sends its second page only once the first page's details were asked
    # for, and the batch is neither full nor due before the listing ends.
    first_asked = anyio.Event()
    order: list[str] = []

    class WaitingListing(VoxoListing):
        async def _pages(self) -> AsyncIterator[Sequence[RawRecord]]:
            yield self.listed[0]
            with anyio.move_on_after(5):  # never reached when the details are read ahead
                await first_asked.wait()
            order.append("page 2")
            yield self.listed[1]

        async def details(self, items: Sequence[RawRecord]) -> Sequence[Detail]:
            order.append(f"details of {len(items)}")
            first_asked.set()
            return await super().details(items)

    store, clock = CountingStore(), ManualClock(T0.replace(2022, 2, 15, 12))
    first = [voxo(n) for n in range(1, GATHER_FROM + 1)]
    source = WaitingListing([first, [voxo(100)]])
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    chosen = CyclePolicy(interval=60, limits=CycleLimits(write_chunk=1000, batch_wait=30))
    with anyio.fail_after(10):
        run = await pipeline.sync_once(Provider(source=source, dialect=VOXO), chosen)
    assert order == [f"details of {GATHER_FROM}", "page 2", "details of 1"]
    assert (run.status, run.changed) == ("succeeded", GATHER_FROM + 1)
    assert store.calls["page"] == 1  # one batch, read ahead in two parts


async def test_a_batch_read_ahead_is_written_in_chunks_of_its_own_entries() -> None:
    store, clock = CountingStore(), ManualClock(T0.replace(2022, 2, 15, 12))
    source = VoxoListing([[voxo(n) for n in range(p * 3 + 1, p * 3 + 4)] for p in range(2)])
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    chosen = CyclePolicy(interval=60, limits=CycleLimits(write_chunk=2, batch_wait=30))
    run = await pipeline.sync_once(Provider(source=source, dialect=VOXO), chosen)
    # Each page of 3 fills a batch, written as 2 and 1; each campaign's detail read once.
    assert (run.status, run.changed, store.calls["page"]) == ("succeeded", 6, 4)
    assert sorted(source.asked) == [str(n) for n in range(1, 7)]
    assert sorted(key.campaign_id for key in store.state.campaigns.rows) == [
        str(n) for n in range(1, 7)
    ]
