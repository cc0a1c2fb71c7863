"""How fast one target syncs: a vox v3 fleet through the real pipeline into PostgreSQL.

Prints figures; it asserts nothing. Three cycles are timed:

* cold: every campaign is new (discovered events, history, current rows);
* idle: nothing changed, so nothing may be written (the common case);
* busy: ten simulated minutes later, every running campaign has progressed.

The simulator is mounted in-process (httpx.ASGITransport), so the figures are
normalization, diff and storage, not the network. The database is the embedded
server unless CAMPAIGN_SYNC_DATABASE_URL is set (its database is used as is).

    python bench/sync_throughput.py --campaigns 5000 --page-size 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select

from worker.app import open_runtime
from worker.clock import ManualClock
from worker.config import Settings, VoxV3Target
from worker.simulators.vox_engine import VoxCampaign, VoxEngine
from worker.simulators.vox_v3 import create_app
from worker.storage import migrate
from worker.storage.embedded import EmbeddedPostgres
from worker.storage.engine import create_engine
from worker.storage.tables import campaign_events

KEY = "bench-key"


def fleet(engine: VoxEngine, size: int, now: datetime) -> None:
    for index in range(size):
        engine.add(
            VoxCampaign(
                id=str(1_000_000 + index),
                name=f"bench campaign {index}",
                created_at=now - timedelta(hours=2, seconds=index),
                scheduled_at=now - timedelta(hours=1),
                total_calls=50_000,
                concurrency=1 + index % 20,
                call_window=None,
            )
        )


async def main(size: int, page_size: int) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    vox = VoxEngine(clock, seed=11)
    fleet(vox, size, clock.now())
    target = VoxV3Target(
        account="bench", base_url="http://vox.bench", api_key=SecretStr(KEY), page_size=page_size
    )
    async with AsyncExitStack() as stack:
        url = os.environ.get("CAMPAIGN_SYNC_DATABASE_URL")
        if url is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            url = (await stack.enter_async_context(EmbeddedPostgres(Path(tmp) / "pgdata"))).url
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        await migrate.upgrade(engine)
        transports = {target.name: httpx.ASGITransport(app=create_app(vox, api_key=KEY))}
        settings = Settings(targets=(target,))
        runtime = await stack.enter_async_context(
            open_runtime(settings, clock=clock, engine=engine, transports=transports)
        )
        print(f"fleet: {size} vox v3 campaigns, page size {page_size}")
        for label, advance in (("cold", None), ("idle", None), ("busy", timedelta(minutes=10))):
            if advance is not None:
                clock.advance(advance)
            started = time.perf_counter()
            summary = await runtime.sync_target(target.name)
            seconds = time.perf_counter() - started
            print(
                f"{label:>5}: {seconds:7.2f} s  {summary.records / seconds:8.0f} records/s  "
                f"{summary.changed:6d} changed  {summary.events:6d} events  ({summary.status})"
            )
        async with engine.connect() as conn:
            counted = await conn.execute(select(func.count()).select_from(campaign_events))
            total = counted.scalar_one()
        print(f"events stored: {total}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=5000)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.campaigns, args.page_size))
