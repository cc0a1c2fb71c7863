"""The relay in the product's commands: ``run`` publishes to JetStream when ``nats:`` is
configured, and a NATS server that cannot be reached stops ``run`` with one line."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream
from nats.js import JetStreamContext
from sqlalchemy.engine import URL

from tests.acceptance.test_cli import cli, plain
from tests.delivery.nats_server import (  # the fixtures are used by their names
    Names,
    free_port,
    js_fixture,  # noqa: F401
    names_fixture,  # noqa: F401
    nats_url_fixture,  # noqa: F401
)
from tests.delivery.test_nats_relay import take
from worker.clock import ManualClock
from worker.runtime.http_server import serve
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app

pytestmark = pytest.mark.slow


def config(tmp_path: Path, base_url: str, nats_url: str, names: Names) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"nats: {{url: '{nats_url}', stream: {names.stream}, subject_prefix: {names.prefix}}}\n"
        "targets:\n"
        f"  - {{provider: vox_v3, account: demo, base_url: '{base_url}', api_key: {{env: VOX_KEY}}}}\n"
    )
    return path


async def logged(process: Process, event: str) -> None:
    """Read the process's JSON log lines until one has this ``event``."""
    assert process.stderr is not None
    buffer = ""
    async for chunk in TextReceiveStream(process.stderr):
        buffer += chunk
        *lines, buffer = buffer.split("\n")
        if any(line.startswith("{") and json.loads(line).get("event") == event for line in lines):
            return
    raise AssertionError(f"the process ended without logging {event}")


async def test_run_publishes_every_event_to_jetstream(
    db_url: URL, tmp_path: Path, nats_url: str, names: Names, js: JetStreamContext
) -> None:
    app, _ = demo_app(ManualClock(datetime(2026, 3, 2, 2, 50, tzinfo=UTC)), seed=5)
    env = {
        **os.environ,
        "CAMPAIGN_SYNC_DATABASE_URL": plain(db_url),
        "VOX_KEY": DEMO_API_KEY,
        "CAMPAIGN_SYNC_LOG_FORMAT": "json",
    }
    async with serve(app) as url:
        path = config(tmp_path, url, nats_url, names)
        command = [
            sys.executable,
            "-m",
            "worker",
            "--config",
            str(path),
            "run",
            "--health-port",
            "0",
        ]
        async with await anyio.open_process(command, env=env) as daemon:
            try:
                with anyio.fail_after(60):  # the relay says when its stream exists
                    await logged(daemon, "nats.relaying")
                    subject = f"{names.prefix}.vox_v3.demo.campaign.discovered"
                    messages = await take(js, subject, names, 5)
            finally:
                daemon.terminate()
            with anyio.fail_after(30):
                code = await daemon.wait()
    assert code == 0
    assert sorted(m.headers["Nats-Msg-Id"] for m in messages) == sorted(
        {m.headers["Nats-Msg-Id"] for m in messages}
    )


async def test_run_with_no_nats_server_stops_with_one_line(
    db_url: URL, tmp_path: Path, names: Names
) -> None:
    app, _ = demo_app(ManualClock(datetime(2026, 3, 2, 2, 50, tzinfo=UTC)), seed=5)
    async with serve(app) as url:
        path = config(tmp_path, url, f"nats://127.0.0.1:{free_port()}", names)
        result = await cli(
            "--config", str(path), "run", "--health-port", "0",
            env={"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url), "VOX_KEY": DEMO_API_KEY},
        )  # fmt: skip
    assert result.returncode == 1
    last = json.loads(result.stderr.strip().splitlines()[-1])  # JSON log mode
    assert (last["event"], last["exit_code"]) == ("cli.failed", 1)
    assert last["message"].startswith("cannot connect to NATS at 127.0.0.1:")
    assert "Traceback" not in result.stderr
