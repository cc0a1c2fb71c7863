"""Leases from the command line: ``sync-once`` next to a worker that holds the target says
so plainly (exit 4), and a worker killed mid-cycle leaves its committed pages counted and
its run closed as ``abandoned`` by the next claim."""

from __future__ import annotations

import itertools
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.acceptance.test_cli import cli, config, plain, simulator
from tests.helpers import Gate, claim, commits_with_events, row
from worker.clock import ManualClock
from worker.domain.campaign import TargetKey
from worker.ports import RunSummary
from worker.runtime.http_server import serve
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app
from worker.storage.postgres import PostgresStore

pytestmark = pytest.mark.slow

DEMO = TargetKey(provider="vox_v3", account="demo")


async def test_sync_once_next_to_a_lease_holder_exits_4_and_names_it(
    db_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    store = PostgresStore(engine)
    env = {"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url), "VOX_KEY": DEMO_API_KEY}
    async with simulator() as url:
        path = config(tmp_path, url)
        held = await claim(store, DEMO, datetime.now(UTC), owner="pod-7/1/abc", ttl=600)
        busy = await cli("--config", str(path), "sync-once", "--lease-wait", "0", env=env)
        await store.finish(held, datetime.now(UTC), RunSummary(status="succeeded"))
        free = await cli("--config", str(path), "sync-once", "--lease-wait", "0", env=env)
    assert busy.returncode == 4, busy.stderr
    assert busy.stdout.startswith(
        "vox_v3/demo: not synced: vox_v3/demo is being synced elsewhere, by pod-7/1/abc "
        "(lease until "
    )
    assert free.returncode == 0, free.stderr
    assert free.stdout.startswith("vox_v3/demo: succeeded, 5 records, 5 changed")


async def test_a_killed_worker_leaves_its_pages_counted_and_its_run_abandoned(
    db_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    app, _ = demo_app(ManualClock(datetime(2026, 3, 2, 2, 50, tzinfo=UTC)), seed=5)
    requests = itertools.count(1)
    # One campaign per page; the 4th page's response never arrives.
    stuck = Gate(app, lambda method, path: path == "/v3/campaigns" and next(requests) == 4)
    stuck.armed = True
    # Pages are fetched ahead of the writer: the 4th request can be held while the 3rd
    # page is still being written, so wait for the 3 page commits too.
    async with serve(stuck) as url, commits_with_events(plain(db_url), 3) as committed:
        path = tmp_path / "config.yaml"
        path.write_text(
            "lease_ttl: 2\n"
            "targets:\n"
            f"  - {{provider: vox_v3, account: demo, base_url: '{url}', "
            "api_key: {env: VOX_KEY}, page_size: 1, limits: {batch_wait: 0}}\n"
        )
        env = {
            **os.environ,
            "CAMPAIGN_SYNC_DATABASE_URL": plain(db_url),
            "VOX_KEY": DEMO_API_KEY,
            "CAMPAIGN_SYNC_LOG_FORMAT": "json",
        }
        command = [sys.executable, "-m", "worker", "--config", str(path), "sync-once"]
        async with await anyio.open_process(command, env=env) as process:
            with anyio.fail_after(30):
                await stuck.held.wait()
                await committed.wait()
            running = await row(engine, "SELECT status, pages, records, changed FROM sync_runs")
            process.send_signal(signal.SIGKILL)
            await process.wait()
            stuck.release()
    assert running == {"status": "running", "pages": 3, "records": 3, "changed": 3}

    # The next claim, after the 2 s lease ran out, closes the dead worker's run.
    store = PostgresStore(engine)
    later = datetime.now(UTC) + timedelta(seconds=5)
    lease = await claim(store, DEMO, later, owner="next-worker")
    assert lease.took_over_from is not None and lease.took_over_from.startswith(
        f"{os.uname().nodename}/"
    )
    dead = await row(
        engine, "SELECT status, pages, records, error FROM sync_runs ORDER BY id LIMIT 1"
    )
    assert dead == {
        "status": "abandoned",
        "pages": 3,
        "records": 3,
        "error": "abandoned: the worker running it stopped renewing its lease",
    }
    await store.finish(lease, later, RunSummary(status="succeeded"))
