"""The embedded default database: starts, says where it lives, refuses unusable data dirs."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.helpers import postgres_processes
from worker.config import Settings
from worker.errors import EmbeddedDatabaseError
from worker.runtime.database import open_database
from worker.storage import migrate
from worker.storage.embedded import EmbeddedPostgres, bundled_major_version


async def test_no_url_starts_the_embedded_server_migrated_and_logs_where(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "pgdata"
    caplog.set_level(logging.INFO, logger="worker")
    async with open_database(Settings(data_dir=data_dir)) as engine:
        async with engine.connect() as conn:
            assert (
                (await conn.execute(text("SHOW server_version_num")))
                .scalar_one()
                .startswith(bundled_major_version())
            )
        assert await migrate.current_revision(engine) == migrate.head_revision()
        assert postgres_processes(data_dir), "the server should be running"
    started = [r for r in caplog.records if getattr(r, "event", "") == "embedded_db.started"]
    assert started and str(data_dir) in started[0].getMessage()
    assert postgres_processes(data_dir) == []  # stopped on exit, nothing left behind


def test_a_data_dir_locked_by_another_process_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
            " fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode());"
            " print('locked', flush=True); sys.stdin.read()",
            str(tmp_path / "pgdata.lock"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"  # the other process holds it now
        with pytest.raises(EmbeddedDatabaseError) as info:
            EmbeddedPostgres(data_dir).start()
        assert f"pgdata is locked by another campaign-sync process (pid {holder.pid})" in str(
            info.value
        )
    finally:
        holder.communicate("")
    assert postgres_processes(data_dir) == []


def test_a_data_dir_from_another_major_version_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    data_dir.mkdir()
    (data_dir / "PG_VERSION").write_text("15\n")
    with pytest.raises(EmbeddedDatabaseError) as info:
        EmbeddedPostgres(data_dir).start()
    message = str(info.value)
    assert "was created by PostgreSQL 15" in message
    assert f"bundles PostgreSQL {bundled_major_version()}" in message
    assert "CAMPAIGN_SYNC_DATA_DIR" in message


def test_a_non_empty_foreign_directory_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    data_dir.mkdir()
    (data_dir / "notes.txt").write_text("not a database")
    with pytest.raises(
        EmbeddedDatabaseError, match="is not empty and is not a PostgreSQL data directory"
    ):
        EmbeddedPostgres(data_dir).start()


def test_the_lock_is_released_after_a_refusal(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    data_dir.mkdir()
    (data_dir / "PG_VERSION").write_text("15\n")
    with pytest.raises(EmbeddedDatabaseError):
        EmbeddedPostgres(data_dir).start()
    (data_dir / "PG_VERSION").unlink()
    with EmbeddedPostgres(data_dir) as server:
        assert server.url.startswith("postgresql+asyncpg://")
