"""PostgresStore on a real database: idempotent writes, SCD2 history, no stale overwrite,
fencing, notifications and the event feed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import claim, count, errors, events, history_count, row
from worker.clock import ManualClock
from worker.domain.campaign import Campaign, Counters, Status, TargetKey
from worker.domain.diff import diff
from worker.domain.records import Rejection, RejectionKind
from worker.errors import LeaseLost
from worker.ports import Lease, RunSummary
from worker.storage.feed import EventFeed
from worker.storage.postgres import PostgresStore
from worker.storage.tables import campaign_events, campaign_history, sync_runs
from worker.sync.leasing import under_lease

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TARGET = TargetKey(provider="vox_v3", account="acme")


def campaign(cid: str = "1", completed: int = 0, status: Status = Status.RUNNING) -> Campaign:
    return Campaign(
        provider="vox_v3",
        account="acme",
        campaign_id=cid,
        name=f"c{cid}",
        status=status,
        status_raw={Status.RUNNING: "ongoing", Status.PAUSED: "paused"}.get(status, "success"),
        counters=Counters(total_calls=10, completed_calls=completed),
        created_at=T,
        raw={"id": cid, "completed_calls": completed, "status": status.value},
    )


async def apply(store: PostgresStore, lease: Lease, *snapshots: Campaign, at: datetime = T) -> int:
    stored = await store.load(TARGET, [c.campaign_id for c in snapshots])
    changes = [ch for c in snapshots if (ch := diff(stored.get(c.campaign_id), c, at))]
    async with store.page(lease, at) as writer:
        return (await writer.write(changes, [], records=len(snapshots))).events


async def test_versions_history_and_current_row(engine: AsyncEngine) -> None:
    store = PostgresStore(engine)
    run = await claim(store, TARGET, T)
    assert await apply(store, run, campaign(completed=0)) == 1
    assert await apply(store, run, campaign(completed=3), at=T + timedelta(minutes=5)) == 1
    assert await apply(store, run, campaign(completed=3), at=T + timedelta(minutes=10)) == 0
    current = await row(
        engine, "SELECT version, completed_calls, first_seen_at, last_changed_at FROM campaigns"
    )
    assert current == {
        "version": 2,
        "completed_calls": 3,
        "first_seen_at": T,
        "last_changed_at": T + timedelta(minutes=5),
    }
    async with engine.connect() as conn:
        versions = (
            await conn.execute(
                select(
                    campaign_history.c.version,
                    campaign_history.c.valid_from,
                    campaign_history.c.valid_to,
                ).order_by(campaign_history.c.version)
            )
        ).all()
    assert [tuple(v) for v in versions] == [
        (1, T, T + timedelta(minutes=5)),
        (2, T + timedelta(minutes=5), None),
    ]
    await store.finish(run, T, RunSummary(status="succeeded"))


async def test_the_first_and_last_instants_datetime_holds_round_trip(engine: AsyncEngine) -> None:
    """asyncpg writes ``datetime.min``/``max`` (as aware UTC) as ``-infinity``/``infinity`` and
    reads those back naive: a provider time at 0001-01-01T00:00:00Z once made every later
    cycle of its target fail to load its campaign. Stored, it reads back as written."""
    store = PostgresStore(engine)
    run = await claim(store, TARGET, T)
    first = datetime.min.replace(tzinfo=UTC)
    last = datetime.max.replace(tzinfo=UTC)
    edges = replace(campaign(), scheduled_start_at=first, finished_at=last)
    assert await apply(store, run, edges) == 1
    stored = (await store.load(TARGET, ["1"]))["1"]
    assert (stored.campaign.scheduled_start_at, stored.campaign.finished_at) == (first, last)
    assert stored.head.scheduled_start_at == first
    assert await apply(store, run, edges, at=T + timedelta(minutes=1)) == 0  # unchanged
    await store.finish(run, T, RunSummary(status="succeeded"))


async def test_writing_the_same_change_twice_inserts_nothing_twice(engine: AsyncEngine) -> None:
    store = PostgresStore(engine)
    lease = await claim(store, TARGET, T)
    change = diff(None, campaign(), T)
    assert change is not None
    written = []
    for _ in range(2):
        async with store.page(lease, T) as writer:
            written.append(await writer.write([change], [], records=1))
    assert [(w.changed, w.events, w.dropped) for w in written] == [(1, 1, 0), (0, 0, 1)]
    assert await count(engine, campaign_events) == 1
    assert await history_count(engine) == 1
    await store.finish(lease, T, RunSummary(status="succeeded"))


async def test_a_change_computed_from_an_outdated_version_writes_nothing(
    engine: AsyncEngine,
) -> None:
    store = PostgresStore(engine)
    lease = await claim(store, TARGET, T)
    await apply(store, lease, campaign(completed=0))
    version_1 = (await store.load(TARGET, ["1"]))["1"]
    await apply(store, lease, campaign(completed=5), at=T + timedelta(minutes=1))
    # A writer that read version 1 long ago now tries to write its own version 2.
    stale = diff(version_1, campaign(completed=4), T + timedelta(minutes=2))
    assert stale is not None and stale.version == 2
    history, stored_events = await history_count(engine), await count(engine, campaign_events)
    async with store.page(lease, T) as writer:
        written = await writer.write([stale], [], records=1)
    assert (written.changed, written.events, written.dropped) == (0, 0, 1)
    assert (await row(engine, "SELECT version, completed_calls FROM campaigns")) == {
        "version": 2,
        "completed_calls": 5,
    }
    # The open history row is still version 2's, and no event was added for the stale one.
    assert await row(
        engine, "SELECT version, valid_to FROM campaign_history WHERE valid_to IS NULL"
    ) == {"version": 2, "valid_to": None}
    assert await history_count(engine) == history
    assert await count(engine, campaign_events) == stored_events
    await store.finish(lease, T, RunSummary(status="succeeded"))


async def test_a_writer_whose_lease_was_taken_over_is_fenced_off(engine: AsyncEngine) -> None:
    first, second = PostgresStore(engine), PostgresStore(engine)
    old = await claim(first, TARGET, T, owner="replica-a", ttl=30)
    # replica-a stalls past its lease; replica-b takes the target over.
    new = await claim(second, TARGET, T + timedelta(seconds=31), owner="replica-b", ttl=30)
    assert new.token == old.token + 1
    assert new.took_over_from == "replica-a"
    with pytest.raises(LeaseLost, match="taken over by another worker"):
        await apply(first, old, campaign("9"))
    assert await first.renew(old, T + timedelta(seconds=32)) is False
    assert await apply(second, new, campaign("9")) == 1
    assert await count(engine, campaign_events) == 1
    runs = await row(
        engine,
        "SELECT string_agg(status || ':' || owner, ',' ORDER BY id) AS runs FROM sync_runs",
    )
    assert runs == {"runs": "abandoned:replica-a,running:replica-b"}
    await second.finish(new, T + timedelta(seconds=40), RunSummary(status="succeeded"))
    await first.finish(old, T + timedelta(seconds=41), RunSummary(status="superseded"))
    target = await row(engine, "SELECT lease_owner, last_status, takeovers FROM sync_targets")
    assert target == {"lease_owner": None, "last_status": "succeeded", "takeovers": 1}


async def test_rejections_are_deduplicated_and_counted(engine: AsyncEngine) -> None:
    store = PostgresStore(engine, secrets=frozenset({"sk-secret"}))
    lease = await claim(store, TARGET, T)
    bad = Rejection(
        kind=RejectionKind.NORMALIZATION,
        reason="created_at='x': expected integer unix milliseconds, got str",
        field="created_at",
        campaign_id="9",
        raw={"id": "9", "created_at": "x", "webhook": {"token": "abc"}, "note": "key sk-secret"},
    )
    for _ in range(3):
        async with store.page(lease, T) as writer:
            await writer.write([], [bad], records=1)
    (stored,) = await errors(engine)
    assert stored["occurrences"] == 3
    assert stored["raw"]["webhook"]["token"] == "[REDACTED]"
    assert stored["raw"]["note"] == "key [REDACTED]"
    assert stored["last_run_id"] == lease.run_id
    await store.finish(lease, T, RunSummary(status="succeeded"))


async def test_a_secret_straddling_a_cut_is_blanked_before_the_cut(engine: AsyncEngine) -> None:
    """Long strings and reasons are cut for ``sync_errors``; a secret across the cut point
    must lose all of itself, not keep its head."""
    secret = "sk-live-0123456789"
    store = PostgresStore(engine, secrets=frozenset({secret}))
    lease = await claim(store, TARGET, T)
    bad = Rejection(
        kind=RejectionKind.PAGE,
        reason="p" * 1995 + secret + " and more",
        raw={"id": "9", "note": "n" * 195 + secret + "m" * 50},
    )
    async with store.page(lease, T) as writer:
        await writer.write([], [bad], records=1)
    (stored,) = await errors(engine)
    for text in (stored["reason"], stored["raw"]["note"]):
        assert secret[:5] not in text
    assert stored["raw"]["note"].startswith("n" * 195 + "[REDA")
    assert stored["reason"].startswith("p" * 1995 + "[REDA")
    await store.finish(lease, T, RunSummary(status="succeeded"))


async def test_failed_run_is_recorded_with_its_error(engine: AsyncEngine) -> None:
    store = PostgresStore(engine)
    lease = await claim(store, TARGET, T)
    await store.finish(
        lease,
        T + timedelta(seconds=3),
        RunSummary(status="failed", error="GET /v3/campaigns returned 503"),
    )
    recorded = await row(engine, "SELECT status, error, finished_at FROM sync_runs")
    assert recorded == {
        "status": "failed",
        "error": "GET /v3/campaigns returned 503",
        "finished_at": T + timedelta(seconds=3),
    }
    (failure,) = await errors(engine)
    assert (failure["kind"], failure["reason"]) == ("page", "GET /v3/campaigns returned 503")
    assert await count(engine, sync_runs) == 1


async def test_feed_catches_up_then_wakes_on_notify(engine: AsyncEngine) -> None:
    store = PostgresStore(engine)
    run = await claim(store, TARGET, T)
    await apply(store, run, campaign("1"), campaign("2"))
    async with EventFeed(engine, poll_interval=30) as feed:
        batches = feed.batches()
        first = await anext(batches)
        assert sorted(e.event.key.campaign_id for e in first) == ["1", "2"]
        with anyio.fail_after(10):  # far below the 30 s poll: only NOTIFY can wake it
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    apply,
                    store,
                    run,
                    replace(campaign("1"), status=Status.PAUSED, status_raw="paused"),
                )
                second = await anext(batches)
        assert [e.event.type for e in second] == ["campaign.status_changed", "campaign.paused"]
        assert feed.cursor.id == max(e["id"] for e in await events(engine))
        await batches.aclose()
    await store.finish(run, T, RunSummary(status="succeeded"))


async def test_a_cycle_whose_renewal_finds_the_lease_taken_over_is_cancelled(
    engine: AsyncEngine,
) -> None:
    first, second = PostgresStore(engine), PostgresStore(engine)
    old = await claim(first, TARGET, T, owner="replica-a", ttl=0.3)
    new = await claim(second, TARGET, T + timedelta(seconds=1), owner="replica-b")
    never = anyio.Event()

    async def long_fetch() -> None:
        await never.wait()  # a fetch that outlives the lease

    with anyio.fail_after(10):  # the renewal comes after ttl/3 = 0.1 s
        lost = await under_lease(first, old, ManualClock(T + timedelta(seconds=2)), long_fetch())
    assert lost is True
    await first.finish(old, T, RunSummary(status="superseded"))
    await second.finish(new, T, RunSummary(status="succeeded"))
