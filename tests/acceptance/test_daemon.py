"""``campaign-sync run`` as Kubernetes runs it: probes answer truthfully, cycles are
recorded, SIGTERM stops it cleanly."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon import daemon, free_port, plain, run_command
from tests.helpers import row
from worker.clock import ManualClock
from worker.runtime.http_server import serve
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app

pytestmark = pytest.mark.slow


async def test_run_syncs_answers_probes_and_stops_on_sigterm(
    db_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    app, _ = demo_app(ManualClock(datetime(2026, 3, 2, 2, 50, tzinfo=UTC)), seed=2)
    port = free_port()
    async with serve(app) as sim_url:
        config = tmp_path / "config.yaml"
        config.write_text(
            "targets:\n"
            f"  - {{provider: vox_v3, account: demo, base_url: '{sim_url}', api_key: {{env: VOX_KEY}},"
            " poll_interval: 3600}\n"
        )
        env = {
            **os.environ,
            "CAMPAIGN_SYNC_DATABASE_URL": plain(db_url),
            "VOX_KEY": DEMO_API_KEY,
            "CAMPAIGN_SYNC_LOG_FORMAT": "json",
        }
        command = run_command(config, health_port=port)
        async with daemon(command, env) as worker:
            # wait for the first cycle's log line, not for time
            finished = await worker.until(lambda line: line.get("event") == "sync.finished", 30)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe:
                alive, ready, metrics = (
                    await probe.get("/healthz"),
                    await probe.get("/readyz"),
                    await probe.get("/metrics"),
                )
            code = await worker.stop()

    assert alive.status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": True, "scheduler": True, "claims": True},
        "reasons": {},
    }
    assert (
        'campaign_sync_cycles_total{account="demo",provider="vox_v3",status="succeeded"} 1.0'
        in metrics.text
    )
    assert code == 0
    assert (finished["target"], finished["status"], finished["records"]) == (
        "vox_v3/demo",
        "succeeded",
        5,
    )
    assert DEMO_API_KEY not in worker.text
    recorded = await row(engine, "SELECT status, records, changed FROM sync_runs")
    assert recorded == {"status": "succeeded", "records": 5, "changed": 5}
