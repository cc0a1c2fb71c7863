"""One cycle's sync core without I/O: the listing sets bad records aside and keeps a
campaign's first record in a cycle; the pipeline and its page shell plan and write page
by page on the in-memory store; a cycle's policy mirrors the target's settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from tests.fast.planning import T0, fixture, vox
from worker.clock import ManualClock
from worker.config import LimitSettings
from worker.domain.campaign import TargetKey, record_fingerprint
from worker.domain.dialects import VoxV3Dialect
from worker.domain.events import EventKind
from worker.domain.records import RejectionKind
from worker.memory import MemoryStore
from worker.ports import Detail, Lease, Provider, RawRecord
from worker.sync.listing import Listing
from worker.sync.pipeline import CycleLimits, CyclePolicy, SyncPipeline

SEED = fixture("vox_v3/campaign_seed")
VOX = VoxV3Dialect(account="acme")
VOX_TARGET = TargetKey(provider="vox_v3", account="acme")


def test_a_listing_reads_ids_and_fingerprints_and_sets_aside_repeats() -> None:
    page = [
        {**SEED, "id": "1"},
        {**SEED, "id": "2", "created_at": "yesterday"},
        {**SEED, "id": "1", "name": "same id again"},
        {**SEED, "id": "bad\u0000id"},
        "not an object",
    ]
    listing = Listing(VOX)
    entries, rejections = listing.take(page)
    assert [e.campaign_id for e in entries] == ["1", "2", None]
    assert entries[0].fingerprint == record_fingerprint(page[0])
    assert entries[2].fingerprint is None  # not an object: normalize will reject it
    kinds = [(r.kind, r.campaign_id, r.field) for r in rejections]
    assert kinds == [
        (RejectionKind.NORMALIZATION, "1", "id"),
        (RejectionKind.UNSTORABLE, None, "id"),
    ]
    assert rejections[0].reason == "id='1': listed twice in one cycle; the first record was kept"
    assert rejections[1].reason == "id: string contains a NUL character"
    assert "1" in listing.seen and "2" in listing.seen and listing.seen.listed == 2
    assert listing.unidentified == 2  # so this listing vanishes nothing


def test_a_campaign_on_two_pages_of_one_cycle_keeps_its_first_record() -> None:
    listing = Listing(VOX)
    first, _ = listing.take([{**SEED, "id": "7", "name": "first"}])
    second, duplicates = listing.take([{**SEED, "id": "7", "name": "second"}, {**SEED, "id": "8"}])
    assert [e.campaign_id for e in first] == ["7"]
    assert [e.campaign_id for e in second] == ["8"]
    (duplicate,) = duplicates
    assert (duplicate.campaign_id, duplicate.raw["name"]) == ("7", "second")


@dataclass
class ListedSource:
    """A provider's pages from memory, one list of records per page; the details of the
    ids in ``failing`` fail."""

    listed: list[list[RawRecord]]
    failing: frozenset[str] = frozenset()
    asked: list[str] = field(default_factory=list)  # ids whose details were asked for

    @property
    def target(self) -> TargetKey:
        return VOX_TARGET

    def pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        return self._pages()

    async def _pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        for page in self.listed:
            yield page

    @asynccontextmanager
    async def listing(self) -> AsyncIterator[AsyncIterator[Sequence[RawRecord]]]:
        yield self.pages()

    @property
    def pages_ahead(self) -> int:
        return 0

    async def details(self, items: Sequence[RawRecord]) -> Sequence[Detail]:
        self.asked.extend(str(item["id"]) for item in items)
        return [
            Detail(record=None, failure="503")
            if item["id"] in self.failing
            else Detail(record=item)
            for item in items
        ]


async def test_a_cycle_writes_what_changed_and_counts_the_pages_that_wrote_nothing() -> None:
    store, clock = MemoryStore(), ManualClock(T0)
    source = ListedSource([[vox("1"), vox("2")], [vox("3")]])
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    policy = CyclePolicy(interval=60)
    first = await pipeline.sync_once(Provider(source=source, dialect=VOX), policy)
    assert (first.status, first.pages, first.records, first.changed, first.events) == (
        "succeeded",
        2,
        3,
        3,
        3,
    )
    clock.advance(timedelta(minutes=1))
    source.asked.clear()
    source.listed = [[vox("1"), vox("2", status="ongoing")], [vox("3")]]
    second = await pipeline.sync_once(Provider(source=source, dialect=VOX), policy)
    assert (second.status, second.pages, second.records, second.changed) == ("succeeded", 2, 3, 1)
    assert source.asked == ["2"]  # the unchanged list items were never read
    events = [(row.event.key.campaign_id, row.event.kind) for row in store.state.outbox()]
    assert events[:3] == [(cid, EventKind.DISCOVERED) for cid in ("1", "2", "3")]
    assert events[3] == ("2", EventKind.STATUS_CHANGED)


async def test_a_failed_detail_makes_the_cycle_partial_and_nothing_vanishes() -> None:
    store, clock = MemoryStore(), ManualClock(T0)
    source = ListedSource([[vox("1"), vox("2")]])
    pipeline = SyncPipeline(store, clock, owner="test", lease_clock=clock)
    policy = CyclePolicy(interval=60)
    await pipeline.sync_once(Provider(source=source, dialect=VOX), policy)
    clock.advance(timedelta(minutes=1))
    source.listed = [[vox("2", name="renamed")]]  # "1" is missing, "2" changed
    source.failing = frozenset({"2"})
    summary = await pipeline.sync_once(Provider(source=source, dialect=VOX), policy)
    assert (summary.status, summary.deferred, summary.changed, summary.vanished) == (
        "partial",
        1,
        0,
        0,
    )


def test_a_cycles_limits_mirror_the_limits_settings() -> None:
    assert CycleLimits() == CycleLimits(**LimitSettings().model_dump())
    custom = LimitSettings(max_pages=3, write_chunk=7, max_drift_values=2)
    assert CycleLimits(**custom.model_dump()).write_chunk == 7


def test_a_full_detail_refresh_is_due_once_per_interval() -> None:
    lease = Lease(target=VOX_TARGET, owner="test", token=1, run_id=1, ttl=30.0)
    assert not CyclePolicy(interval=60).full_refresh_due(lease, T0)  # 0: never
    daily = CyclePolicy(interval=60, detail_refresh=86_400)
    assert daily.full_refresh_due(lease, T0)  # never refreshed yet
    refreshed = Lease(
        target=VOX_TARGET,
        owner="test",
        token=1,
        run_id=1,
        ttl=30.0,
        last_full_refresh_at=T0 - timedelta(hours=1),
    )
    assert not daily.full_refresh_due(refreshed, T0)
    assert daily.full_refresh_due(refreshed, T0 + timedelta(hours=23))
