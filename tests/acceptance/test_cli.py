"""The command line, run as users run it: a subprocess against a real database and a
simulator served on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from sqlalchemy.engine import URL

from worker import __version__
from worker.clock import ManualClock
from worker.runtime.http_server import serve
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app
from worker.storage import migrate

pytestmark = pytest.mark.slow


async def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "CAMPAIGN_SYNC_LOG_FORMAT": "json", **(env or {})}
    full_env.pop("CAMPAIGN_SYNC_CONFIG", None)
    result = await anyio.run_process(
        [sys.executable, "-m", "worker", *args], env=full_env, check=False
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def plain(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def simulator() -> AsyncIterator[str]:
    # Entered inside each test: its task group must open and close in the same task.
    # A frozen clock: the simulated fleet does not move between two CLI runs.
    app, _ = demo_app(ManualClock(datetime(2026, 3, 2, 2, 50, tzinfo=UTC)), seed=5)
    async with serve(app) as url:
        yield url


def config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "targets:\n"
        f"  - {{provider: vox_v3, account: demo, base_url: '{base_url}', api_key: {{env: VOX_KEY}}}}\n"
    )
    return path


async def test_version() -> None:
    result = await cli("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"campaign-sync {__version__}")


async def test_migrate_twice_changes_nothing(empty_db_url: URL) -> None:
    env = {"CAMPAIGN_SYNC_DATABASE_URL": plain(empty_db_url)}
    first, second = await cli("migrate", env=env), await cli("migrate", env=env)
    head = migrate.head_revision()
    assert (first.returncode, first.stdout.strip()) == (0, f"schema migrated none -> {head}")
    assert (second.returncode, second.stdout.strip()) == (0, f"schema already at {head}")


async def test_sync_once_twice_writes_nothing_the_second_time(db_url: URL, tmp_path: Path) -> None:
    env = {"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url), "VOX_KEY": DEMO_API_KEY}
    async with simulator() as url:
        path = str(config(tmp_path, url))
        first = await cli("--config", path, "sync-once", env=env)
        second = await cli("--config", path, "sync-once", "--target", "vox_v3/demo", env=env)
    assert first.returncode == 0, first.stderr
    assert (
        first.stdout.strip()
        == "vox_v3/demo: succeeded, 5 records, 5 changed, 5 events, 0 rejected, 0 vanished"
    )
    assert second.returncode == 0, second.stderr
    assert (
        second.stdout.strip()
        == "vox_v3/demo: succeeded, 5 records, 0 changed, 0 events, 0 rejected, 0 vanished"
    )
    assert DEMO_API_KEY not in first.stderr + second.stderr


async def test_refused_key_exits_1_without_showing_it(db_url: URL, tmp_path: Path) -> None:
    env = {"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url), "VOX_KEY": "wrong-key-123456"}
    async with simulator() as url:
        result = await cli("--config", str(config(tmp_path, url)), "sync-once", env=env)
    assert result.returncode == 1
    assert "vox_v3/demo: failed" in result.stdout
    assert "credentials refused" in result.stdout
    assert "wrong-key-123456" not in result.stdout + result.stderr


async def test_configuration_errors_exit_2(tmp_path: Path) -> None:
    missing = await cli(
        "--config", str(config(tmp_path, "http://127.0.0.1:9")), "sync-once", env={"VOX_KEY": ""}
    )
    assert missing.returncode == 2
    assert "environment variable VOX_KEY is not set" in missing.stderr
    empty = tmp_path / "empty.yaml"
    empty.write_text("log_level: INFO\n")
    no_targets = await cli(
        "--config",
        str(empty),
        "sync-once",
        env={"CAMPAIGN_SYNC_DATABASE_URL": "postgresql://x@127.0.0.1:9/x"},
    )
    assert no_targets.returncode == 2
    assert "no targets configured" in no_targets.stderr


async def test_an_unmigrated_server_is_refused_with_the_fix(
    empty_db_url: URL, tmp_path: Path
) -> None:
    env = {"CAMPAIGN_SYNC_DATABASE_URL": plain(empty_db_url), "VOX_KEY": DEMO_API_KEY}
    result = await cli(
        "--config", str(config(tmp_path, "http://127.0.0.1:9")), "sync-once", env=env
    )
    assert result.returncode == 3
    assert "run `campaign-sync migrate` first" in result.stderr


async def test_status_lists_synced_targets_and_grant_reader_refuses_a_bad_name(
    db_url: URL, tmp_path: Path
) -> None:
    env = {"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url), "VOX_KEY": DEMO_API_KEY}
    async with simulator() as url:
        path = str(config(tmp_path, url))
        synced = await cli("--config", path, "sync-once", env=env)
    assert synced.returncode == 0, synced.stderr
    table, as_json = await cli("status", env=env), await cli("status", "--json", env=env)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:3] == ["TARGET", "LAST", "SUCCESS"]
    assert table.stdout.splitlines()[1].startswith("vox_v3/demo ")
    (row,) = json.loads(as_json.stdout)
    assert (row["provider"], row["account"], row["last_status"]) == ("vox_v3", "demo", "succeeded")
    assert sum(row["campaigns"].values()) == 5
    refused = await cli("grant-reader", "no; drop table campaigns", env=env)
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) >= 1
    assert "Traceback" not in refused.stderr
