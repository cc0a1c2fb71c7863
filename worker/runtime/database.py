"""The database a process runs on: the configured server or the embedded one, migrated."""

from __future__ import annotations

import logging
import os
import secrets as token_source
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from worker.config import Settings
from worker.errors import StorageError
from worker.observability import loggers
from worker.storage import migrate
from worker.storage.embedded import EmbeddedPostgres, default_data_dir
from worker.storage.engine import Database, create_engine, display_url

__all__ = ["open_database", "require_schema", "worker_name"]

log = logging.getLogger(loggers.APP)


@asynccontextmanager
async def open_database(
    settings: Settings, *, migrate_embedded: bool = True
) -> AsyncIterator[Database]:
    """An engine on the configured server, or on the embedded one when none is set.

    The embedded database is migrated on start (it belongs to this process);
    a configured server is migrated only by ``campaign-sync migrate``.
    """
    async with AsyncExitStack() as stack:
        if settings.database_url is not None:
            url = settings.database_url.get_secret_value()
            log.info("using PostgreSQL at %s", display_url(url), extra={"event": "db.configured"})
        else:
            data_dir: Path = settings.data_dir or default_data_dir()
            embedded = await stack.enter_async_context(EmbeddedPostgres(data_dir))
            url = embedded.url
        engine = create_engine(
            url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        stack.push_async_callback(engine.dispose)
        if settings.database_url is None and migrate_embedded:
            await migrate.upgrade(engine)
        yield engine


async def require_schema(engine: Database) -> None:
    """Fail fast, with the fix, when the database is not at the newest migration."""
    current, head = await migrate.current_revision(engine), migrate.head_revision()
    if current != head:
        raise StorageError(
            f"database schema is at revision {current or 'none'}, this worker needs {head}; "
            "run `campaign-sync migrate` first"
        )


def worker_name() -> str:
    """This process's name as a lease owner: host (the pod's name), pid and a random tag."""
    return f"{socket.gethostname()}/{os.getpid()}/{token_source.token_hex(3)}"
