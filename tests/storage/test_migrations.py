"""Migrations match the table metadata, are idempotent, and round-trip down and up."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import URL

from worker.storage import migrate
from worker.storage.engine import create_engine
from worker.storage.tables import metadata

TABLES = {
    "campaigns",
    "campaign_history",
    "campaign_events",
    "sync_runs",
    "sync_errors",
    "sync_targets",
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
