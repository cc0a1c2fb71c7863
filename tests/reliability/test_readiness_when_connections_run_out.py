"""Issue 17, item 8: a replica whose claims fail because PostgreSQL has no connection slot
left for it is not ready, and ``/readyz`` says why; it is ready again once a claim goes
through. The worker logs in as a role of the test's own with ``CONNECTION LIMIT 1`` and a
pool of one connection (``database_pool_size: 1``, ``database_max_overflow: 0``); the test
runs the slots out by holding the role's only one itself. Any other StorageError of the
claims counts too: a server that takes the worker's sessions read-only."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon import Daemon, daemon, free_port, plain, run_command
from worker.clock import ManualClock
from worker.runtime.http_server import serve
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app

pytestmark = [pytest.mark.slow, pytest.mark.storage]

TARGET = "vox_v3/fleet"


@pytest.fixture
async def limited_role(engine: AsyncEngine) -> AsyncIterator[str]:
    """A login role of this test's own that may open one connection and write the schema."""
    role = f"cs_limited_{uuid.uuid4().hex[:10]}"
    async with engine.begin() as conn:
        database = (await conn.execute(text("SELECT current_database()"))).scalar_one()
        for statement in (
            f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 1',
            f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"',
            f'GRANT USAGE ON SCHEMA public TO "{role}"',
            f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"',
            f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
        ):
            await conn.execute(text(statement))
    yield role
    async with engine.begin() as conn:
        await conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
            {"r": role},
        )
        await conn.execute(text(f'DROP OWNED BY "{role}"'))
        await conn.execute(text(f'DROP ROLE "{role}"'))


async def take_every_slot(engine: AsyncEngine, dsn: str, role: str) -> list[asyncpg.Connection]:
    """Hold every connection ``role`` may open, the worker's included: end its sessions
    and take their slots, until the server refuses the role and no one else holds one."""
    held: list[asyncpg.Connection] = []
    with anyio.fail_after(30):
        while True:
            ours = [c.get_server_pid() for c in held]
            async with engine.connect() as conn:
                others = (
                    await conn.execute(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE usename = :r AND NOT pid = ANY(:ours)"
                        ),
                        {"r": role, "ours": ours},
                    )
                ).scalar_one()
            try:
                held.append(await asyncpg.connect(dsn))
            except asyncpg.TooManyConnectionsError:
                if not others:
                    return held
                await anyio.sleep(0.05)  # an ended session frees its slot as it exits


async def readyz_until(probe: httpx.AsyncClient, done: Any) -> dict[str, Any]:
    """Poll ``/readyz`` (another process's state) until ``done(status, body)``."""
    with anyio.fail_after(30):
        while True:
            response = await probe.get("/readyz")
            body: dict[str, Any] = response.json()
            if done(response.status_code, body):
                return body
            await anyio.sleep(0.1)


@asynccontextmanager
async def worker(
    db_url: URL, role: str, tmp_path: Path
) -> AsyncIterator[tuple[Daemon, httpx.AsyncClient]]:
    """``campaign-sync run`` as ``role``, one target, a pool of one; yields it once ready."""
    app, _ = demo_app(ManualClock(datetime(2026, 3, 2, 2, 50, tzinfo=UTC)), seed=4)
    port = free_port()
    async with serve(app) as sim:
        config = tmp_path / "config.yaml"
        config.write_text(
            "database_pool_size: 1\n"
            "database_max_overflow: 0\n"
            "targets:\n"
            f"  - {{provider: vox_v3, account: fleet, base_url: '{sim}', api_key: {{env: KEY}},"
            " poll_interval: 1}\n"
        )
        env = {
            **os.environ,
            "CAMPAIGN_SYNC_DATABASE_URL": plain(db_url.set(username=role)),
            "KEY": DEMO_API_KEY,
            "CAMPAIGN_SYNC_LOG_FORMAT": "json",
        }
        env.pop("CAMPAIGN_SYNC_CONFIG", None)
        async with (
            daemon(run_command(config, health_port=port), env) as log,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe,
        ):
            await log.until(lambda x: x.get("event") == "sync.finished" and x["target"] == TARGET)
            ready = await readyz_until(probe, lambda status, _: status == 200)
            assert ready["status"] == "ready" and not ready.get("reasons")
            # The pool setting holds the worker to the role's one connection: a default
            # pool (5 + 5) opens a second one at a busy moment and is refused.
            assert not [x for x in log.lines if x.get("event") == "sync.storage_failed"]
            yield log, probe
            assert await log.stop() == 0


async def test_readyz_is_503_with_the_reason_while_no_connection_slot_is_left(
    db_url: URL, engine: AsyncEngine, limited_role: str, tmp_path: Path
) -> None:
    async with worker(db_url, limited_role, tmp_path) as (log, probe):
        held = await take_every_slot(engine, plain(db_url.set(username=limited_role)), limited_role)
        try:
            await log.until(lambda x: x.get("event") == "sync.storage_failed")
            # The worker's own session, ended to take its slot, may fail a claim first as
            # "connection closed"; the claims after it meet the full server.
            body = await readyz_until(
                probe,
                lambda status, b: (
                    status == 503
                    and "too many connections" in b.get("reasons", {}).get("claims", "")
                ),
            )
            assert body["status"] == "not ready"
            assert body["checks"]["claims"] is False
            reason = body["reasons"]["claims"]
            assert TARGET in reason and "too many connections" in reason, reason
            assert (await probe.get("/healthz")).status_code == 200  # alive: no restart
        finally:
            for conn in held:
                await conn.close()

        # A slot is free again: the next claim goes through, and the replica is ready.
        ready = await readyz_until(probe, lambda status, _: status == 200)
        assert ready["reasons"] == {}
        assert all(ready["checks"].values())


async def end_sessions(engine: AsyncEngine, role: str) -> None:
    async with engine.connect() as conn:
        await conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
            {"r": role},
        )


async def test_readyz_is_503_while_every_claim_fails_though_the_database_answers(
    db_url: URL, engine: AsyncEngine, limited_role: str, tmp_path: Path
) -> None:
    """Any StorageError counts: a server that takes the worker's sessions read-only still
    answers the probe's own query, so only the claims show the replica cannot write."""
    async with worker(db_url, limited_role, tmp_path) as (log, probe):
        async with engine.begin() as conn:
            await conn.execute(
                text(f'ALTER ROLE "{limited_role}" SET default_transaction_read_only = on')
            )
        await end_sessions(engine, limited_role)  # the worker's next session is read-only
        await log.until(lambda x: x.get("event") == "sync.storage_failed")
        body = await readyz_until(probe, lambda status, _: status == 503)
        assert body["checks"] == {"database": True, "scheduler": True, "claims": False}
        assert "read-only transaction" in body["reasons"]["claims"], body

        async with engine.begin() as conn:
            await conn.execute(
                text(f'ALTER ROLE "{limited_role}" RESET default_transaction_read_only')
            )
        await end_sessions(engine, limited_role)
        ready = await readyz_until(probe, lambda status, _: status == 200)
        assert ready["reasons"] == {}
