"""Readers survive a database restart: a subscription waiting for events when its server
stops and starts again receives what is written afterwards, and misses nothing."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.delivery.outbox import ACME, campaign, writers
from worker import subscribe
from worker.storage import migrate
from worker.storage.embedded import EmbeddedPostgres
from worker.storage.engine import create_engine
from worker.storage.postgres import PostgresStore

pytestmark = pytest.mark.slow


async def test_a_subscription_reconnects_after_its_database_restarts(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "own-pgdata")  # the test's own server, never shared
    url = await anyio.to_thread.run_sync(server.start)
    try:
        engine = create_engine(url)
        await migrate.upgrade(engine)
        store = PostgresStore(engine)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        got: list[str] = []
        async with subscribe(dsn, consumer="survivor", poll_interval=0.2) as events:
            async with writers(store) as (acme, _):
                await acme.write(campaign(ACME, "before"))
            async for event in events:
                got.append(event["subject"])
                await event.ack()
                break
            await engine.dispose()
            await anyio.to_thread.run_sync(server.stop)  # the database goes away...
            await anyio.to_thread.run_sync(server.start)  # ...and comes back
            engine = create_engine(url)
            store = PostgresStore(engine)
            async with writers(store) as (acme, _):
                await acme.write(campaign(ACME, "after"))
            with anyio.fail_after(30):
                async for event in events:
                    got.append(event["subject"])
                    await event.ack()
                    break
        await engine.dispose()
    finally:
        await anyio.to_thread.run_sync(server.stop)
    assert got == ["before", "after"]
