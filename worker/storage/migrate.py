"""Run the Alembic migrations from code: ``campaign-sync migrate`` and the test template.

The scripts live in ``migrations/`` at the top of the repository; a built wheel
carries them as ``worker/_migrations``. Concurrent runs (several replicas
starting at once) serialize on an advisory lock, and a second run is a no-op.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from worker.errors import StorageError
from worker.storage.engine import storage_errors

__all__ = ["current_revision", "downgrade", "head_revision", "migrations_dir", "upgrade"]

_MIGRATION_LOCK = 0x63_73_6D_69_67  # "csmig": one migrator at a time per database


def migrations_dir() -> Path:
    """Where the Alembic scripts are, installed or in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_migrations", package.parent / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise StorageError(f"migration scripts not found next to {package}")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision() -> str:
    """The newest revision the scripts define."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise StorageError("migration scripts define no revision")
    return head


def _run(connection: Connection, action: str, revision: str) -> None:
    config = _config()
    config.attributes["connection"] = connection
    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
    if action == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; running it again changes nothing."""
    with storage_errors("migration"):
        async with engine.begin() as conn:
            await conn.run_sync(_run, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    """Take the schema back to ``revision`` (``base`` drops every table)."""
    with storage_errors("migration"):
        async with engine.begin() as conn:
            await conn.run_sync(_run, "downgrade", revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or ``None`` before the first migration."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    with storage_errors("reading the schema revision"):
        async with engine.connect() as conn:
            return await conn.run_sync(read)
