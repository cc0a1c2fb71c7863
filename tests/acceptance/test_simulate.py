"""``campaign-sync simulate`` tells a newcomer everything needed to reach the simulator: its
URL, its public demo credentials and a target to paste; a worker configured from that
output alone syncs it."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.acceptance.test_cli import cli
from tests.daemon import daemon, plain

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("provider", ["vox_v3", "vox_v2", "voxo", "sarvam"])
async def test_a_worker_configured_from_what_simulate_prints_syncs_it(
    provider: str, db_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    env = {**os.environ, "CAMPAIGN_SYNC_LOG_FORMAT": "json"}
    command = [sys.executable, "-m", "worker", "simulate", provider, "--port", "0"]
    async with daemon(command, env) as simulator:
        printed = await simulator.printed("fault knobs")
        lines = printed.splitlines()
        exports = dict(
            line.strip().removeprefix("export ").split("=", 1)
            for line in lines
            if line.strip().startswith("export ")
        )
        assert exports, printed  # the demo credentials, in the clear
        target = lines[lines.index("a target that reaches it (put it under `targets:`):") + 1 :]
        config = tmp_path / "config.yaml"
        config.write_text("targets:\n" + "\n".join(target) + "\n")
        result = await cli(
            "--config",
            str(config),
            "sync-once",
            env={"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url), **exports},
        )
        assert result.returncode == 0, result.stderr
        assert await simulator.stop(signal.SIGINT) == 0
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT count(*) FROM campaigns"))).scalar_one()
    assert stored > 0


def test_the_readme_lists_each_simulators_demo_credentials() -> None:
    from tests.fast.test_docs import README
    from worker.cli.simulate import demo_simulators

    for sim in demo_simulators():
        target = sim.target("http://sim.test")
        secrets = [
            value.get_secret_value()
            for value in vars(target).values()
            if hasattr(value, "get_secret_value")
        ]
        row = next(line for line in README.splitlines() if line.startswith(f"| `{sim.name}` |"))
        for secret in secrets:
            assert f"`{secret}`" in row, (sim.name, row)
