"""Commands that only read or administer the database (``status``, ``events …``,
``grant-*``): they refuse to fall back to an embedded database nobody asked for, and
they need no provider secret, since none of them polls a provider."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.acceptance.test_cli import cli, plain
from tests.acceptance.test_roles import drop_roles
from tests.delivery.outbox import ACME, campaign, writers
from worker import subscribe
from worker.storage.postgres import PostgresStore

pytestmark = pytest.mark.slow

# A variable no one sets: the provider's key is missing, as on a reporting host.
UNSET = f"CS_TEST_UNSET_{uuid.uuid4().hex[:8].upper()}"
TARGET = (
    f"{{provider: vox_v3, account: a, base_url: 'http://127.0.0.1:9', api_key: {{env: {UNSET}}}}}"
)

READ_ONLY_COMMANDS = {
    "status": ["status"],
    "status --json": ["status", "--json"],
    "events tail": ["events", "tail"],
    "events consumers": ["events", "consumers"],
    "events replay": ["events", "replay", "--consumer", "billing", "--from", "1"],
    "events dead-letters": ["events", "dead-letters"],
    "events redeliver": ["events", "redeliver", "--sink", "hooks"],
    "grant-reader": ["grant-reader", "cs_never_made"],
    "grant-subscriber": ["grant-subscriber", "cs_never_made"],
}


def config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"targets:\n  - {TARGET}\n{extra}")
    return path


def error_line(stderr: str) -> dict[str, object]:
    lines = [json.loads(line) for line in stderr.strip().splitlines()]
    (failed,) = [line for line in lines if line["level"] == "error"]
    assert "Traceback" not in stderr
    return failed


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS)
async def test_a_missing_database_url_is_refused_with_the_fix(tmp_path: Path, command: str) -> None:
    # Were it to fall back, it would start a server in tmp_path, never in the user's data dir.
    env = {"CAMPAIGN_SYNC_DATA_DIR": str(tmp_path / "pgdata"), UNSET: "vox-key"}
    result = await cli("--config", str(config(tmp_path)), *READ_ONLY_COMMANDS[command], env=env)
    assert result.returncode == 2, result.stderr + result.stdout
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    failed = error_line(result.stderr)
    assert failed["message"] == (
        "no database configured: set CAMPAIGN_SYNC_DATABASE_URL (or database_url in the "
        "config file); to use the embedded PostgreSQL on this machine's disk instead, "
        "pass --embedded or set embedded_database: true"
    )
    assert not (tmp_path / "pgdata").exists()


@pytest.mark.parametrize("how", ["--embedded", "embedded_database: true"])
async def test_the_embedded_database_is_used_when_asked(tmp_path: Path, how: str) -> None:
    env = {"CAMPAIGN_SYNC_DATA_DIR": str(tmp_path / "pgdata")}
    flag = [how] if how.startswith("--") else []
    path = config(tmp_path, "" if flag else f"{how}\n")
    status = await cli("--config", str(path), "status", *flag, env=env)
    assert status.returncode == 0, status.stderr
    assert status.stdout.strip() == "no target has been synced yet"
    consumers = await cli("--config", str(path), "events", "consumers", *flag, env=env)
    assert consumers.returncode == 0, consumers.stderr
    assert consumers.stdout.split()[:2] == ["consumer", "cursor"]
    assert (tmp_path / "pgdata" / "PG_VERSION").exists()


async def test_commands_that_do_not_poll_need_no_provider_secret(
    db_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    async with writers(PostgresStore(engine)) as (acme, _):
        await acme.write(campaign(ACME, "1"))
    async with subscribe(plain(db_url), consumer="billing", poll_interval=0.2):
        pass  # the consumer now exists
    path = str(config(tmp_path))
    env = {"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)}
    role = f"cs_reader_{uuid.uuid4().hex[:10]}"
    try:
        runs = {
            name: await cli("--config", path, *args, env=env)
            for name, args in {
                **READ_ONLY_COMMANDS,
                "grant-reader": ["grant-reader", role],
                "grant-subscriber": ["grant-subscriber", role],
            }.items()
        }
    finally:
        await drop_roles(engine, role)
    for name, result in runs.items():
        assert result.returncode == 0, (name, result.stderr)
    assert "billing" in runs["events consumers"].stdout
    assert "billing: cursor moved to" in runs["events replay"].stdout
    # Targets given whole in the environment are left alone too.
    target = {"provider": "vox_v3", "account": "a", "base_url": "http://127.0.0.1:9",
              "api_key": {"env": UNSET}}  # fmt: skip
    from_env = await cli("status", env={**env, "CAMPAIGN_SYNC_TARGETS": json.dumps([target])})
    assert from_env.returncode == 0, from_env.stderr
    # The one command that checks the whole configuration still names what is missing.
    checked = await cli("--config", path, "config", "check")
    assert checked.returncode == 2
    assert f"environment variable {UNSET} is not set or empty" in str(
        error_line(checked.stderr)["message"]
    )
