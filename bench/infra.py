"""What the bench starts and stops: the database server, its databases, and the fleets.

* **Database.** The embedded PostgreSQL in a temporary directory (with
  ``pg_stat_statements`` preloaded, so statements can be counted), or the
  server of ``CAMPAIGN_SYNC_BENCH_DATABASE_URL`` (statements are counted there
  only if it preloads ``pg_stat_statements``). Each method and provider gets a
  database of its own, dropped and created again before every initial sync.
  With ``autovacuum=False`` the embedded server runs with ``autovacuum = off``;
  on any server, :meth:`Server.quiet` sets ``autovacuum_enabled = false`` on
  every table of a database (a shared server's setting is left alone: this is
  per table, and goes with the bench's databases).
* **Fleets.** One ``python -m bench.fleet`` process per provider, on loopback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import asyncpg
import httpx

URL_ENV = "CAMPAIGN_SYNC_BENCH_DATABASE_URL"
PEER_TABLE = (
    "CREATE TABLE bench_campaigns (id text {key}, record jsonb NOT NULL, "
    "fetched_at timestamptz NOT NULL DEFAULT now())"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """The PostgreSQL server the bench writes to; a context manager."""

    def __init__(self, *, autovacuum: bool = True) -> None:
        self.external = os.environ.get(URL_ENV)
        self.autovacuum = autovacuum
        self._embedded: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.created: set[str] = set()  # dropped again by drop_created on a server of its own
        self.dsn = ""  # libpq/asyncpg form, database ``postgres``

    def __enter__(self) -> Self:
        if self.external:
            self.dsn = self.external.replace("postgresql+asyncpg://", "postgresql://", 1)
            return self
        from worker.storage.embedded import EmbeddedPostgres

        self._tmp = tempfile.TemporaryDirectory(prefix="campaign-sync-bench-")
        self._embedded = EmbeddedPostgres(Path(self._tmp.name) / "pgdata")
        self._embedded.start()
        conf = self._embedded.data_dir / "postgresql.auto.conf"
        with conf.open("a") as out:
            out.write("shared_preload_libraries = 'pg_stat_statements'\n")
            if not self.autovacuum:
                out.write("autovacuum = off\n")
        self._embedded.stop()
        self._embedded.start()
        self.dsn = self._embedded.url.replace("postgresql+asyncpg://", "postgresql://", 1)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._embedded is not None:
            self._embedded.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    @property
    def label(self) -> str:
        return "external" if self.external else "embedded"

    def dsn_of(self, database: str) -> str:
        parts = urlsplit(self.dsn)
        return parts._replace(path=f"/{database}").geturl()

    def url_of(self, database: str) -> str:
        """The SQLAlchemy URL campaign-sync is configured with."""
        return self.dsn_of(database).replace("postgresql://", "postgresql+asyncpg://", 1)

    def dlt_credentials(self, database: str) -> str:
        """A DSN dlt can read: it wants a host and port even for a Unix socket, and a
        password even where the server asks none (trust): an empty one then."""
        parts = urlsplit(self.dsn_of(database))
        if parts.hostname and parts.password is not None:
            return parts.geturl()
        user = parts.username or "postgres"
        where = f"{parts.hostname}:{parts.port or 5432}" if parts.hostname else "localhost:5432"
        return parts._replace(netloc=f"{user}:@{where}").geturl()

    async def admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn)

    async def recreate(self, database: str, *, template: str | None = None) -> None:
        conn = await self.admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            clause = f' TEMPLATE "{template}"' if template else ""
            await conn.execute(f'CREATE DATABASE "{database}"{clause}')
            self.created.add(database)
        finally:
            await conn.close()
        if template is None:
            target = await asyncpg.connect(self.dsn_of(database))
            try:
                # Counted where the server allows it; silently not where it does not.
                with suppress(asyncpg.PostgresError):
                    await target.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            finally:
                await target.close()

    async def peer_table(self, database: str, *, primary_key: bool) -> None:
        await self.recreate(database)
        conn = await asyncpg.connect(self.dsn_of(database))
        try:
            await conn.execute(PEER_TABLE.format(key="PRIMARY KEY" if primary_key else ""))
        finally:
            await conn.close()

    async def quiet(self, database: str) -> None:
        """Autovacuum off on every table of ``database`` (and their TOAST tables)."""
        conn = await asyncpg.connect(self.dsn_of(database))
        try:
            tables = await conn.fetch(
                "SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND NOT coalesce('autovacuum_enabled=false' = ANY(c.reloptions), false)"
            )
            for table in tables:  # names quoted by format(%I) from the catalog
                await conn.execute(
                    f"ALTER TABLE {table['name']} SET "
                    "(autovacuum_enabled = false, toast.autovacuum_enabled = false)"
                )
        finally:
            await conn.close()

    async def drop(self, database: str) -> None:
        conn = await self.admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await conn.close()

    async def drop_created(self) -> None:
        """Drop every database this bench created (on a server that outlives the run)."""
        for database in sorted(self.created):
            await self.drop(database)
        self.created.clear()

    def settings(self) -> dict[str, str]:
        """The server's version and the settings that matter to these figures."""
        return self._settings

    async def read_settings(self) -> None:
        conn = await self.admin()
        try:
            with suppress(asyncpg.PostgresError):  # statements are read from here
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            names = [
                "server_version",
                "autovacuum",
                "shared_buffers",
                "synchronous_commit",
                "fsync",
                "max_wal_size",
                "shared_preload_libraries",
            ]
            rows = await conn.fetch(
                "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)", names
            )
            self._settings = {
                r["name"]: f"{r['setting']}{' × ' + r['unit'] if r['unit'] else ''}" for r in rows
            }
        finally:
            await conn.close()


class Fleet:
    """One provider's bench fleet served by uvicorn in its own process."""

    def __init__(self, provider: str, n: int, seed: int) -> None:
        self.provider = provider
        self.n = n
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(  # noqa: S603
            [
                *(sys.executable, "-m", "bench.fleet", provider),
                *("--n", str(n), "--port", str(self.port), "--seed", str(seed)),
            ],
            stdout=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 1800.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the {self.provider} fleet exited ({self.process.returncode})")
            with suppress(httpx.HTTPError):
                httpx.get(f"{self.base_url}/_bench/stats", timeout=2).raise_for_status()
                return
            time.sleep(0.2)  # the fleet is building n campaigns; poll its port
        raise SystemExit(f"the {self.provider} fleet did not start within {timeout:g} s")

    async def stats(self) -> dict[str, int]:
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            response = await client.get("/_bench/stats")
            result: dict[str, int] = response.raise_for_status().json()
            return result

    async def mutate(self, percent: float, phase: int) -> list[str]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=600) as client:
            response = await client.post(
                "/_bench/mutate", json={"percent": percent, "phase": phase}
            )
            changed: list[str] = response.raise_for_status().json()["changed"]
            return changed

    async def set_latency(self, seconds: float) -> None:
        """Every provider request waits ``seconds`` before its answer (the simulators' knob)."""
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            response = await client.put("/_sim/faults", json={"latency": seconds})
            response.raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
