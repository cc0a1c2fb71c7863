"""The gap-free reading rule: an event whose transaction took a smaller id and committed
later is delivered, and every event once, by every reader."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.delivery.outbox import out_of_order, writers
from worker.ports import Position
from worker.storage.feed import EventFeed
from worker.storage.postgres import PostgresStore


async def test_a_late_commit_of_a_smaller_id_is_not_skipped(engine: AsyncEngine) -> None:
    store = PostgresStore(engine)
    seen: list[tuple[str, int]] = []
    async with writers(store) as (acme, globex), EventFeed(engine, poll_interval=60) as feed:

        async def read_between() -> None:
            # globex's event committed with a larger id; acme's smaller one is in flight.
            batch = await feed.fetch()
            seen.extend((e.event.key.campaign_id, e.row_id) for e in batch)

        await out_of_order(acme, globex, read_between)
        assert seen == []  # nothing passed while an older transaction could still commit
        seen.extend((e.event.key.campaign_id, e.row_id) for e in await feed.fetch())
        assert await feed.fetch() == []
    assert [cid for cid, _ in seen] == ["early", "late"]
    assert seen[0][1] < seen[1][1]  # the early one did take the smaller id


async def test_a_reader_that_used_ids_alone_would_have_skipped_it(engine: AsyncEngine) -> None:
    # The bug this rule fixes, shown on the same interleaving: id > cursor misses "early".
    store = PostgresStore(engine)
    async with writers(store) as (acme, globex):
        cursor = {"id": 0}

        async def naive() -> None:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text("SELECT id FROM campaign_events WHERE id > :c ORDER BY id"),
                        {"c": cursor["id"]},
                    )
                ).all()
            if rows:
                cursor["id"] = rows[-1].id

        await out_of_order(acme, globex, naive)
    async with engine.connect() as conn:
        early = (
            await conn.execute(text("SELECT id FROM campaign_events WHERE campaign_id = 'early'"))
        ).scalar_one()
    assert early < cursor["id"]  # passed without being read: the gap


async def test_positions_order_as_the_feed_delivers(engine: AsyncEngine) -> None:
    store = PostgresStore(engine)
    async with writers(store) as (acme, globex):
        await out_of_order(acme, globex, _nothing)
    async with EventFeed(engine) as feed:
        delivered = [e async for batch in feed.batches(follow=False) for e in batch]
    positions = [e.position for e in delivered]
    assert positions == sorted(positions)
    assert Position.parse(str(positions[0])) == positions[0]


async def _nothing() -> None:
    return None
