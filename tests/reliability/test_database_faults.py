"""The database away: at start-up, and in the middle of running. The suite owns this
server (its own data directory and socket), never the shared one."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx
import pytest

from tests.daemon import daemon, free_port, run_command
from tests.reliability.invariants import check_invariants
from worker.clock import ManualClock
from worker.runtime.http_server import serve
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app
from worker.storage import migrate
from worker.storage.embedded import EmbeddedPostgres
from worker.storage.engine import create_engine

pytestmark = [pytest.mark.slow, pytest.mark.storage]


async def status(probe: httpx.AsyncClient, path: str) -> int:
    return (await probe.get(path)).status_code


async def test_database_away_at_start_and_mid_run(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "own-pgdata")
    url = await anyio.to_thread.run_sync(server.start)
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    await anyio.to_thread.run_sync(server.stop)  # down before the worker starts
    app, _ = demo_app(ManualClock(datetime(2026, 3, 2, 2, 50, tzinfo=UTC)), seed=4)
    port = free_port()
    try:
        async with serve(app) as sim:
            config = tmp_path / "config.yaml"
            config.write_text(
                "targets:\n"
                f"  - {{provider: vox_v3, account: demo, base_url: '{sim}', api_key: {{env: KEY}},"
                " poll_interval: 1}\n"
            )
            env = {
                **os.environ,
                "CAMPAIGN_SYNC_DATABASE_URL": url.replace("postgresql+asyncpg://", "postgresql://"),
                "KEY": DEMO_API_KEY,
                "CAMPAIGN_SYNC_LOG_FORMAT": "json",
            }
            command = run_command(config, health_port=port)
            async with (
                daemon(command, env) as log,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe,
            ):
                # Two tries, then: alive, not ready, and still running (no crash loop).
                waiting = "daemon.waiting_for_database"
                await log.until(lambda line: line.get("event") == waiting)
                await log.until(lambda line: line.get("event") == waiting)
                assert (await status(probe, "/healthz"), await status(probe, "/readyz")) == (
                    200,
                    503,
                )
                assert log.process.returncode is None

                await anyio.to_thread.run_sync(server.start)
                await log.until(lambda line: line.get("event") == "sync.finished")
                assert await status(probe, "/readyz") == 200

                await anyio.to_thread.run_sync(server.stop)  # away mid-run: red, still alive
                assert await status(probe, "/readyz") == 503
                assert await status(probe, "/healthz") == 200
                await anyio.to_thread.run_sync(server.start)
                with anyio.fail_after(30):  # green again, and a cycle completes
                    while await status(probe, "/readyz") != 200:  # noqa: ASYNC110 - another process
                        await anyio.sleep(0.1)
                await log.until(
                    lambda line: (
                        line.get("event") == "sync.finished" and line.get("status") == "succeeded"
                    )
                )
                assert await log.stop() == 0
        engine = create_engine(url)
        try:
            await check_invariants(engine, once_per_interval=True)
        finally:
            await engine.dispose()
    finally:
        await anyio.to_thread.run_sync(server.stop)
