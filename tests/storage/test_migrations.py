"""Migrations match the table metadata, are idempotent, and round-trip down and up."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import count, history_count, runtime_for, select_all
from tests.kits import ProviderKit, all_kits
from worker.clock import ManualClock
from worker.domain.campaign import Campaign, canonical_json
from worker.simulators.faults import Faults
from worker.storage import migrate
from worker.storage.engine import create_engine
from worker.storage.integrity import integrity_violations
from worker.storage.rows import campaign_from_row
from worker.storage.tables import campaign_events, campaign_history, metadata
from worker.storage.views import campaigns

TABLES = {
    "campaign_history",
    "campaign_events",
    "sync_runs",
    "sync_errors",
    "sync_targets",
    "event_consumers",
    "webhook_sinks",
    "webhook_deliveries",
}


def _drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_upgrade_matches_metadata_without_drift(empty_db_url: URL) -> None:
    engine = create_engine(empty_db_url)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_drift) == []
            assert await conn.run_sync(_tables) == TABLES
    finally:
        await engine.dispose()


async def test_upgrade_twice_changes_nothing(empty_db_url: URL) -> None:
    engine = create_engine(empty_db_url)
    snapshot = text(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY 1, 2"
    )
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            before = (await conn.execute(snapshot)).all()
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            after = (await conn.execute(snapshot)).all()
        assert after == before
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()


async def test_downgrade_to_base_then_upgrade_round_trips(empty_db_url: URL) -> None:
    engine = create_engine(empty_db_url)
    try:
        await migrate.upgrade(engine)
        await migrate.downgrade(engine, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        assert await migrate.current_revision(engine) is None
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_drift) == []
    finally:
        await engine.dispose()


_CURRENT = "SELECT * FROM campaigns ORDER BY provider, account, campaign_id"


def _three_vox_campaigns(clock: ManualClock) -> tuple[ProviderKit, Any]:
    """The vox v3 kit and its simulator, serving three running campaigns."""
    kit = all_kits()["vox_v3"]
    app, state = kit.build(clock, Faults(), 4)
    kit.populate(state, 3)
    return kit, app


async def test_0010_keeps_the_current_rows_as_the_open_history_rows_and_back(
    empty_db_url: URL, clock: ManualClock
) -> None:
    kit, app = _three_vox_campaigns(clock)
    engine = create_engine(empty_db_url)
    try:
        await migrate.upgrade(engine)
        async with runtime_for(engine, clock, {kit.target: app}) as rt:
            await rt.sync_target(kit.target.name)
            clock.advance(timedelta(hours=1))
            await rt.sync_target(kit.target.name)
        assert await history_count(engine) > await count(engine, campaigns)  # some closed
        async with engine.begin() as conn:  # bookkeeping only the current row kept
            await conn.execute(text("UPDATE campaigns SET missed_listings = 1, list_hash = 'x' "
                                    "WHERE campaign_id = (SELECT min(campaign_id) FROM campaigns)"))  # fmt: skip
        current = await select_all(engine, _CURRENT)
        await migrate.downgrade(engine, "0009")
        assert await select_all(engine, _CURRENT) == current  # a table again, same rows
        await migrate.upgrade(engine)
        assert await select_all(engine, _CURRENT) == current
        assert len(current) == 3 and current[0]["missed_listings"] == 1
        first_seen = await select_all(
            engine,
            "SELECT DISTINCT h.campaign_id, h.first_seen_at = c.first_seen_at AS same "
            "FROM campaign_history h JOIN campaigns c USING (provider, account, campaign_id)",
        )
        assert [r["same"] for r in first_seen] == [True] * 3
        assert await integrity_violations(engine) == []
    finally:
        await engine.dispose()


def old_content_hash(campaign: Campaign) -> str:
    """How revision 0001's worker hashed a version: its own rendering plus the raw record."""
    rendering = {k: v for k, v in campaign.snapshot().items() if k != "degraded"}  # not in 0001
    body = canonical_json({"normalized": rendering, "raw": dict(campaign.raw)})
    return hashlib.sha256(body.encode()).hexdigest()


async def _rehash_the_old_way(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table, key in ((campaigns, "campaign_id"), (campaign_history, "id")):
            later = {"missed_listings", "vanished_at", "degraded", "list_hash"}
            if table is campaign_history:
                later.add("first_seen_at")  # 0010
            at_0001 = [c for c in table.columns if c.name not in later]
            for stored in (await conn.execute(select(*at_0001))).all():
                # Rebuilt as 0001's worker read it (it had no degraded fields).
                row_0001 = SimpleNamespace(_mapping={**stored._mapping, "degraded": []})
                await conn.execute(
                    update(table)
                    .where(table.c[key] == stored._mapping[key])
                    .values(content_hash=old_content_hash(campaign_from_row(row_0001)))  # type: ignore[arg-type]
                )


async def test_an_upgrade_over_rows_hashed_the_old_way_writes_nothing(
    empty_db_url: URL, clock: ManualClock
) -> None:
    kit, app = _three_vox_campaigns(clock)
    engine = create_engine(empty_db_url)
    try:
        await migrate.upgrade(engine, "0001")
        await migrate.upgrade(engine)
        async with runtime_for(engine, clock, {kit.target: app}) as rt:
            assert (await rt.sync_target(kit.target.name)).changed == 3
        # Back to revision 0001, with the hashes its worker would have stored.
        await migrate.downgrade(engine, "0001")
        await _rehash_the_old_way(engine)
        await migrate.upgrade(engine)
        history, stored_events = await history_count(engine), await count(engine, campaign_events)
        async with runtime_for(engine, clock, {kit.target: app}) as rt:
            again = await rt.sync_target(kit.target.name)
        assert (again.status, again.changed, again.events) == ("succeeded", 0, 0)
        assert await history_count(engine) == history
        assert await count(engine, campaign_events) == stored_events
        assert await integrity_violations(engine) == []
    finally:
        await engine.dispose()


async def test_a_release_that_renders_fields_differently_writes_nothing(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    kit = all_kits()["vox_v3"]
    app, state = kit.build(clock, Faults(), 4)
    kit.populate(state, 2)
    async with runtime_for(engine, clock, {kit.target: app}) as rt:
        await rt.sync_target(kit.target.name)
        # What an older release stored: another reading of the same provider records.
        async with engine.begin() as conn:
            await conn.execute(
                update(campaigns).values(
                    name=campaigns.c.name + " (old reading)", time_flags=["created_at: fold"]
                )
            )
        history = await history_count(engine)
        again = await rt.sync_target(kit.target.name)
    assert (again.changed, again.events) == (0, 0)
    assert await history_count(engine) == history
