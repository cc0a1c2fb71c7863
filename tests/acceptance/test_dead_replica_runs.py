"""Issue 17, item 3, as it was met: three ``campaign-sync run`` replicas, the lease holder
SIGKILLed mid-cycle and the other two SIGTERMed before its lease expires, so no replica is
left to take its target over. Once the lease has expired, ``status`` (table and JSON) and
the reporting views read its run as abandoned, never as running or as a last success; and
the next worker to start closes it as ``abandoned``, though it does not sync that target."""

from __future__ import annotations

import json
import os
import signal
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.memory import MemoryObjectSendStream
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.acceptance.test_cli import cli, plain
from tests.daemon import Daemon, daemon, run_command
from tests.helpers import Gate, row
from worker.clock import ManualClock
from worker.runtime.http_server import serve
from worker.simulators import vox_v2, vox_v3
from worker.storage.lapsed import ABANDONED

pytestmark = pytest.mark.slow

INTERVAL = 2.0
LEASE_TTL = 3.0
FROZEN = datetime(2026, 3, 2, 2, 50, tzinfo=UTC)  # the fleets do not move: quiet cycles


async def read_logs(
    index: int, replica: Daemon, lines: MemoryObjectSendStream[tuple[int, dict[str, Any]]]
) -> None:
    async with lines:
        while (line := await replica.next_line()) is not None:
            await lines.send((index, line))


async def select(engine: AsyncEngine, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(text(sql), params)]


async def test_runs_of_a_killed_holder_read_abandoned_and_the_next_worker_closes_them(
    db_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    held = Gate(vox_v3.demo_app(ManualClock(FROZEN), seed=3)[0], lambda m, p: p == "/v3/campaigns")
    async with AsyncExitStack() as stack:
        held_url = await stack.enter_async_context(serve(held))
        v2_url = await stack.enter_async_context(
            serve(vox_v2.demo_app(ManualClock(FROZEN), seed=5)[0])
        )
        config = tmp_path / "config.yaml"
        config.write_text(
            f"lease_ttl: {LEASE_TTL}\n"
            "targets:\n"
            f"  - {{provider: vox_v3, account: held, base_url: '{held_url}', "
            f"api_key: {{env: VOX_KEY}}, poll_interval: {INTERVAL}}}\n"
            f"  - {{provider: vox_v2, account: demo, base_url: '{v2_url}', "
            f"api_key: {{env: VOX_V2_KEY}}, poll_interval: {INTERVAL}}}\n"
        )
        env = {
            **os.environ,
            "CAMPAIGN_SYNC_DATABASE_URL": plain(db_url),
            "CAMPAIGN_SYNC_LOG_FORMAT": "json",
            "VOX_KEY": vox_v3.DEMO_API_KEY,
            "VOX_V2_KEY": vox_v2.DEMO_API_KEY,
        }
        env.pop("CAMPAIGN_SYNC_CONFIG", None)
        command = run_command(config)
        replicas = [await stack.enter_async_context(daemon(command, env)) for _ in range(3)]
        send, receive = anyio.create_memory_object_stream[tuple[int, dict[str, Any]]](1000)
        stack.enter_context(send)
        stack.enter_context(receive)
        group = await stack.enter_async_context(anyio.create_task_group())
        for index, replica in enumerate(replicas):
            group.start_soon(read_logs, index, replica, stack.enter_context(send.clone()))
        succeeded: set[str] = set()
        scheduling: set[int] = set()
        # Every replica scheduling (so SIGTERM stops it cleanly), and both targets synced:
        # each has a last success for the status to show instead of the truth.
        with anyio.fail_after(60):
            async for index, line in receive:
                if line.get("event") == "scheduler.started":
                    scheduling.add(index)
                if line.get("event") == "sync.finished" and line["status"] == "succeeded":
                    succeeded.add(line["target"])
                if len(succeeded) == 2 and len(scheduling) == 3:
                    break

        held.armed = True  # the next replica to sync vox_v3/held hangs mid-cycle
        with anyio.fail_after(30):
            await held.held.wait()
        holder = await row(engine, "SELECT lease_owner FROM sync_targets WHERE account = 'held'")
        dead_owner = holder["lease_owner"]
        victim = next(r for r in replicas if r.process.pid == int(dead_owner.split("/")[1]))
        victim.process.kill()
        for replica in replicas:
            if replica is not victim:  # at once: the holder's lease is still unexpired
                replica.process.send_signal(signal.SIGTERM)
        held.armed = False
        held.release()
        with anyio.fail_after(30):
            codes = [await r.process.wait() for r in replicas if r is not victim]
        group.cancel_scope.cancel()
    assert codes == [0, 0]

    # Every replica is gone; wait (bounded) for the dead holder's leases to expire.
    with anyio.fail_after(LEASE_TTL + 30):
        while (  # noqa: ASYNC110 - the database's clock decides
            await row(
                engine,
                "SELECT count(*) AS live FROM sync_targets "
                "WHERE lease_owner IS NOT NULL AND lease_expires_at > now()",
            )
        )["live"]:
            await anyio.sleep(0.1)
    stranded = await select(
        engine, "SELECT id, provider, account FROM sync_runs WHERE status = 'running'"
    )
    assert stranded, "the killed holder's run was closed by nobody: nothing to read yet"
    assert ("vox_v3", "held") in {(r["provider"], r["account"]) for r in stranded}

    db_env = {"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)}
    as_json, table = await cli("status", "--json", env=db_env), await cli("status", env=db_env)
    assert (as_json.returncode, table.returncode) == (0, 0), as_json.stderr + table.stderr
    document = {f"{d['provider']}/{d['account']}": d for d in json.loads(as_json.stdout)}
    for run in stranded:
        target = document[f"{run['provider']}/{run['account']}"]
        assert (target["last_status"], target["last_error"]) == ("abandoned", ABANDONED)
        assert target["lease_owner"] == dead_owner
    held_line = next(x for x in table.stdout.splitlines() if x.startswith("vox_v3/held"))
    assert held_line.split()[3] == "abandoned", table.stdout  # LAST RUN
    assert f"{dead_owner} (expired)" in held_line

    fresh = await select(
        engine,
        "SELECT account, last_status, last_error FROM target_freshness WHERE account = 'held'",
    )
    assert fresh == [{"account": "held", "last_status": "abandoned", "last_error": ABANDONED}]
    outcomes = await select(
        engine, "SELECT status, count(*) AS n FROM sync_run_outcomes GROUP BY 1 ORDER BY 1"
    )
    assert "running" not in {r["status"] for r in outcomes}

    # The next worker to start syncs only the other target, and closes the stranded runs.
    async with serve(vox_v2.demo_app(ManualClock(FROZEN), seed=5)[0]) as v2_url:
        only_v2 = tmp_path / "only-v2.yaml"
        only_v2.write_text(
            "targets:\n"
            f"  - {{provider: vox_v2, account: demo, base_url: '{v2_url}', "
            "api_key: {env: VOX_V2_KEY}}\n"
        )
        started = await cli(
            "--config",
            str(only_v2),
            "sync-once",
            env={**db_env, "VOX_V2_KEY": vox_v2.DEMO_API_KEY},
        )
    assert started.returncode == 0, started.stderr
    closed = await select(
        engine,
        "SELECT id, status, error FROM sync_runs WHERE id = ANY(:ids)",
        ids=[r["id"] for r in stranded],
    )
    assert {(r["status"], r["error"]) for r in closed} == {("abandoned", ABANDONED)}
    logged = [json.loads(x) for x in started.stderr.splitlines()]
    assert "vox_v3/held" in {
        x.get("target") for x in logged if x.get("event") == "lease.runs_abandoned"
    }
