"""``campaign-sync run`` as Kubernetes runs it: probes answer truthfully, cycles are
recorded, SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx
import pytest
from anyio.streams.text import TextReceiveStream
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import row
from worker.clock import ManualClock
from worker.http_server import serve
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
            "CAMPAIGN_SYNC_DATABASE_URL": db_url.set(drivername="postgresql").render_as_string(
                hide_password=False
            ),
            "VOX_KEY": DEMO_API_KEY,
            "CAMPAIGN_SYNC_LOG_FORMAT": "json",
        }
        command = [sys.executable, "-m", "worker", "--config", str(config), "run",
                   "--health-host", "127.0.0.1", "--health-port", str(port)]  # fmt: skip
        async with await anyio.open_process(command, env=env) as process:
            assert process.stderr is not None
            seen: list[dict[str, object]] = []
            buffer = ""
            with anyio.fail_after(30):  # wait for the first cycle's log line, not for time
                async for chunk in TextReceiveStream(process.stderr):
                    buffer += chunk
                    *lines, buffer = buffer.split("\n")
                    seen.extend(json.loads(line) for line in lines if line.startswith("{"))
                    if any(e.get("event") == "sync.finished" for e in seen):
                        break
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe:
                alive, ready, metrics = (
                    await probe.get("/healthz"),
                    await probe.get("/readyz"),
                    await probe.get("/metrics"),
                )
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                code = await process.wait()

    assert alive.status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": True, "scheduler": True}}
    assert (
        'campaign_sync_cycles_total{account="demo",provider="vox_v3",status="succeeded"} 1.0'
        in metrics.text
    )
    assert code == 0
    finished = next(e for e in seen if e.get("event") == "sync.finished")
    assert (finished["target"], finished["status"], finished["records"]) == (
        "vox_v3/demo",
        "succeeded",
        5,
    )
    assert DEMO_API_KEY not in json.dumps(seen)
    recorded = await row(engine, "SELECT status, records, changed FROM sync_runs")
    assert recorded == {"status": "succeeded", "records": 5, "changed": 5}
