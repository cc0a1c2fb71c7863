"""Cycles where nothing changed, on the in-memory store: with the digest table warm they
read no heads, fetch no detail and write nothing; a new lease holder in between, a
restart or a failed cycle makes the pipeline load the table again from the store."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from tests.fast.planning import T0, vox, voxo
from tests.fast.test_pipeline import ListedSource
from worker.clock import ManualClock
from worker.domain.campaign import Status, TargetKey
from worker.domain.dialects import VoxoDialect, VoxV3Dialect
from worker.errors import ProviderUnavailable
from worker.memory import MemoryStore
from worker.ports import Detail, PageHeads, Provider, RawRecord, RunSummary
from worker.sync.pipeline import CyclePolicy, SyncPipeline

VOX = VoxV3Dialect(account="acme")
VOXO = VoxoDialect(account="acme", tenant_id=1234)
POLICY = CyclePolicy(interval=60)


class CountingStore(MemoryStore):
    """The memory store, counting the reads a cycle makes of it and the pages it writes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    async def heads(self, target: TargetKey, campaign_ids: Sequence[str], **kw: Any) -> PageHeads:
        self.calls["heads"] += 1
        return await super().heads(target, campaign_ids, **kw)

    async def list_digests(
        self, target: TargetKey, *, after: str, limit: int
    ) -> Sequence[tuple[str, str]]:
        self.calls["list_digests"] += 1
        return await super().list_digests(target, after=after, limit=limit)

    def page(self, *args: Any, **kw: Any) -> Any:
        self.calls["page"] += 1
        return super().page(*args, **kw)

    def rows(self) -> tuple[int, int, int]:
        """Campaign, history and event rows held."""
        state = self.state
        return len(state.campaigns.rows), len(state.history.rows), len(state.events.rows)


FLEET = [[vox(str(n)) for n in range(page, page + 3)] for page in (0, 3, 6)]


async def cycle(pipeline: SyncPipeline, source: Any, clock: ManualClock) -> RunSummary:
    clock.advance(timedelta(minutes=1))
    dialect = VOXO if getattr(source, "voxo", False) else VOX
    return await pipeline.sync_once(Provider(source=source, dialect=dialect), POLICY)


async def test_a_warm_no_change_cycle_reads_no_heads_fetches_no_detail_and_writes_nothing() -> None:
    store, clock = CountingStore(), ManualClock(T0)
    source = ListedSource([list(page) for page in FLEET])
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    first = await cycle(pipeline, source, clock)
    assert (first.status, first.changed) == ("succeeded", 9)
    rows, source.asked = store.rows(), []
    store.calls.clear()
    quiet = await cycle(pipeline, source, clock)
    assert (quiet.status, quiet.records, quiet.pages, quiet.changed) == ("succeeded", 9, 3, 0)
    assert store.calls == Counter()  # no heads, no reload, no page transaction
    assert source.asked == [] and store.rows() == rows


async def test_a_changed_record_is_read_and_written_then_skipped_again() -> None:
    store, clock = CountingStore(), ManualClock(T0)
    source = ListedSource([list(page) for page in FLEET])
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    await cycle(pipeline, source, clock)
    source.listed[1][1] = vox("4", status="ongoing")
    store.calls.clear()
    changed = await cycle(pipeline, source, clock)
    assert (changed.changed, source.asked[-1:]) == (1, ["4"])
    assert (store.calls["heads"], store.calls["page"]) == (1, 1)  # that page only
    store.calls.clear()
    source.asked = []
    again = await cycle(pipeline, source, clock)
    assert (again.changed, source.asked, store.calls) == (0, [], Counter())


async def test_another_writer_in_between_makes_the_table_load_again() -> None:
    store, clock = CountingStore(), ManualClock(T0)
    source = ListedSource([list(page) for page in FLEET])
    ours = SyncPipeline(store, clock, owner="ours", lease_clock=clock)
    theirs = SyncPipeline(store, clock, owner="theirs", lease_clock=clock)
    await cycle(ours, source, clock)
    # Their cycle (a new token) changes "2" while ours remembers its old record.
    source.listed[0][2] = vox("2", status="ongoing")
    assert (await cycle(theirs, source, clock)).changed == 1
    source.listed[0][2] = vox("2")  # and back: our table's digest, but not what is stored
    store.calls.clear()
    back = await cycle(ours, source, clock)
    assert store.calls["list_digests"] == 1  # loaded again under the new token
    assert back.changed == 1 and store.calls["heads"] == 1  # "2"'s page only
    campaign = store.state.campaigns.rows
    assert [row.version for key, row in campaign.items() if key.campaign_id == "2"] == [3]


async def test_a_restarted_worker_loads_the_table_and_reads_no_heads() -> None:
    store, clock = CountingStore(), ManualClock(T0)
    source = ListedSource([list(page) for page in FLEET])
    await cycle(SyncPipeline(store, clock, owner="test", lease_clock=clock), source, clock)
    store.calls.clear()
    restarted = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    quiet = await cycle(restarted, source, clock)
    assert (quiet.changed, store.calls) == (0, Counter({"list_digests": 1}))


class FailingSource(ListedSource):
    """Lists its pages, then fails on the last one."""

    async def _pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        for page in self.listed[:-1]:
            yield page
        raise ProviderUnavailable("the list failed", target="vox_v3/acme")


async def test_a_failed_cycle_drops_the_table() -> None:
    store, clock = CountingStore(), ManualClock(T0)
    source = ListedSource([list(page) for page in FLEET])
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    await cycle(pipeline, source, clock)
    failing = FailingSource([list(page) for page in FLEET])
    assert (await cycle(pipeline, failing, clock)).status == "failed"
    store.calls.clear()
    await cycle(pipeline, source, clock)
    assert store.calls == Counter({"list_digests": 1})


async def test_a_campaign_that_missed_a_listing_is_read_again_when_it_returns() -> None:
    store, clock = CountingStore(), ManualClock(T0)
    source = ListedSource([list(page) for page in FLEET])
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    policy_two_misses = CyclePolicy(interval=60, misses_to_vanish=2)
    provider = Provider(source=source, dialect=VOX)
    await pipeline.sync_once(provider, policy_two_misses)
    kept = source.listed[2].pop()  # "8" misses one listing
    clock.advance(timedelta(minutes=1))
    await pipeline.sync_once(provider, policy_two_misses)
    source.listed[2].append(kept)
    clock.advance(timedelta(minutes=1))
    store.calls.clear()
    await pipeline.sync_once(provider, policy_two_misses)
    assert store.calls["heads"] == 1  # its record is the same, but its miss is reset
    (row,) = [r for key, r in store.state.campaigns.rows.items() if key.campaign_id == "8"]
    assert (row.missed_listings, row.vanished_at) == (0, None)


class VoxoListing(ListedSource):
    """VOXO list items; each item is its own detail."""

    voxo = True

    @property
    def target(self) -> TargetKey:
        return TargetKey(provider="voxo", account="acme")

    async def details(self, items: Sequence[RawRecord]) -> Sequence[Detail]:
        self.asked.extend(str(item["id"]) for item in items)
        return [Detail(record=item) for item in items]


async def test_a_ready_campaign_is_skipped_while_it_reads_the_stored_status() -> None:
    """VOXO's READY is read against its dates: the table holds its digest mixed with the
    status stored, so the same item is skipped (no head read) while it reads that status,
    and read again once its dates make it read another."""
    store, clock = CountingStore(), ManualClock(T0.replace(2022, 2, 15, 12))
    source = VoxoListing([[voxo(7, state="READY"), voxo(8, state="PAUSED")]])
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    await cycle(pipeline, source, clock)
    store.calls.clear()
    quiet = await cycle(pipeline, source, clock)
    assert (store.calls, quiet.changed) == (Counter(), 0)  # both skipped: nothing read
    clock.set(T0.replace(2022, 2, 16))  # inside its dates: the same item reads "running"
    source.asked = []
    ran = await cycle(pipeline, source, clock)
    assert (ran.changed, source.asked, store.calls["heads"]) == (1, ["7"], 1)
    (row,) = [r for key, r in store.state.campaigns.rows.items() if key.campaign_id == "7"]
    assert row.campaign.status is Status.RUNNING
    store.calls.clear()
    assert (await cycle(pipeline, source, clock)).changed == 0
    assert store.calls == Counter()  # confirmed with the status it was written with


async def test_a_ready_campaign_is_skipped_from_a_table_loaded_from_the_store() -> None:
    """A restart loads the table from the store, whose digests mix in the stored status
    the same way: the READY item is skipped until its dates move its status."""
    store, clock = CountingStore(), ManualClock(T0.replace(2022, 2, 15, 12))
    source = VoxoListing([[voxo(7, state="READY"), voxo(8, state="PAUSED")]])
    await cycle(SyncPipeline(store, clock, owner="test", lease_clock=clock), source, clock)
    restarted = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    store.calls.clear()
    await cycle(restarted, source, clock)
    assert store.calls == Counter({"list_digests": 1})
    clock.set(T0.replace(2022, 2, 17))  # past its end: "completed"
    store.calls.clear()
    ran = await cycle(SyncPipeline(store, clock, owner="test", lease_clock=clock), source, clock)
    assert (ran.changed, store.calls["heads"]) == (1, 1)


class ForgetfulStore(CountingStore):
    """A store whose ``list_digests`` tells nothing: a table loaded from it starts empty."""

    async def list_digests(
        self, target: TargetKey, *, after: str, limit: int
    ) -> Sequence[tuple[str, str]]:
        self.calls["list_digests"] += 1
        return []


async def test_a_ready_campaign_read_the_long_way_unchanged_is_confirmed() -> None:
    """A READY item the table does not know, whose stored head still reads the stored
    status, is confirmed mixed with that status: skipped from the next cycle on."""
    store, clock = ForgetfulStore(), ManualClock(T0.replace(2022, 2, 15, 12))
    source = VoxoListing([[voxo(7, state="READY")]])
    await cycle(SyncPipeline(store, clock, owner="test", lease_clock=clock), source, clock)
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)  # a restart
    store.calls.clear()
    source.asked = []
    await cycle(pipeline, source, clock)
    assert (store.calls["heads"], source.asked) == (1, [])  # known unchanged from its head
    store.calls.clear()
    await cycle(pipeline, source, clock)
    assert store.calls == Counter()
