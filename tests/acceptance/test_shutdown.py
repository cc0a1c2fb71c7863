"""SIGTERM with a cycle that outlives the grace period: the cycle is cancelled, its run
recorded as canceled, and the whole shutdown is logged at INFO, never as an error."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Receive, Scope, Send

from tests.daemon import daemon, plain, run_command
from tests.helpers import row
from worker.runtime.http_server import serve

pytestmark = pytest.mark.slow


class Hung:
    """A provider that takes every request and never answers, until the client goes."""

    def __init__(self) -> None:
        self.asked = anyio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.asked.set()
        while (await receive())["type"] != "http.disconnect":
            pass


async def test_a_cycle_cancelled_at_shutdown_logs_no_error(
    db_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    provider = Hung()
    async with serve(provider) as hung:
        config = tmp_path / "config.yaml"
        config.write_text(
            "shutdown_grace: 0.2\n"
            "targets:\n"
            f"  - {{provider: vox_v3, account: hung, base_url: '{hung}', api_key: {{env: KEY}},"
            " poll_interval: 3600}\n"
        )
        env = {
            **os.environ,
            "CAMPAIGN_SYNC_DATABASE_URL": plain(db_url),
            "KEY": "vox-key-hung-0001",
            "CAMPAIGN_SYNC_LOG_FORMAT": "json",
        }
        command = run_command(config)
        async with daemon(command, env) as worker:
            with anyio.fail_after(60):  # the cycle is in flight once the provider is asked
                await provider.asked.wait()
            code = await worker.stop()
    lines = worker.lines  # every line is JSON
    assert code == 0, worker.text
    events = [line.get("event") for line in lines]
    assert "scheduler.cancelled" in events, worker.text
    assert events.index("scheduler.cancelled") < events.index("scheduler.stopped")
    assert [line for line in lines if line["level"] not in ("debug", "info")] == []
    assert "Traceback" not in worker.text and "CancelledError" not in worker.text
    recorded = await row(engine, "SELECT status FROM sync_runs WHERE account = 'hung'")
    assert recorded == {"status": "canceled"}
