"""Three ``campaign-sync run`` processes on one database: each (target, interval) is synced
once, by one replica at a time; a replica SIGKILLed while it holds a target loses it when
its lease expires, and another replica takes it over within an interval after that."""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections import Counter, defaultdict
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
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.acceptance.test_cli import plain
from tests.daemon import Daemon, daemon, run_command
from tests.helpers import Gate, row
from worker.clock import ManualClock
from worker.runtime.http_server import serve
from worker.simulators import sarvam, vox_v2, vox_v3

pytestmark = pytest.mark.slow

INTERVAL = 2.0
LEASE_TTL = 2.0
FROZEN = datetime(2026, 3, 2, 2, 50, tzinfo=UTC)  # the fleets do not move: quiet cycles


class Requests:
    """Counts the requests a simulator serves."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_sim/"):
            self.count += 1
        await self.app(scope, receive, send)


async def read_logs(
    index: int, replica: Daemon, events: MemoryObjectSendStream[tuple[int, dict[str, Any]]]
) -> None:
    async with events:
        while (line := await replica.next_line()) is not None:
            await events.send((index, line))


async def test_three_replicas_share_the_targets_and_take_over_a_dead_ones(
    db_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    held_app, _ = vox_v3.demo_app(ManualClock(FROZEN), seed=3)
    held = Gate(held_app, lambda method, path: path == "/v3/campaigns")
    counted = Requests(vox_v3.demo_app(ManualClock(FROZEN), seed=4)[0])
    apps = {
        "held": held,
        "counted": counted,
        "v2": vox_v2.demo_app(ManualClock(FROZEN), seed=5)[0],
        "sarvam": sarvam.demo_app(ManualClock(FROZEN), seed=6)[0],
    }
    async with AsyncExitStack() as stack:
        urls = {name: await stack.enter_async_context(serve(app)) for name, app in apps.items()}
        common = f"poll_interval: {INTERVAL}"
        config = tmp_path / "config.yaml"
        config.write_text(
            f"lease_ttl: {LEASE_TTL}\n"
            "targets:\n"
            f"  - {{provider: vox_v3, account: held, base_url: '{urls['held']}', "
            f"api_key: {{env: VOX_KEY}}, {common}}}\n"
            f"  - {{provider: vox_v3, account: counted, base_url: '{urls['counted']}', "
            f"api_key: {{env: VOX_KEY}}, page_size: 1, {common}}}\n"
            f"  - {{provider: vox_v2, account: demo, base_url: '{urls['v2']}', "
            f"api_key: {{env: VOX_V2_KEY}}, {common}}}\n"
            f"  - {{provider: sarvam, account: demo, base_url: '{urls['sarvam']}"
            f"{sarvam.BASE_PATH}', api_key: {{env: SARVAM_KEY}}, org_id: {sarvam.DEMO_ORG_ID}, "
            f"workspace_id: {sarvam.DEMO_WORKSPACE_ID}, {common}}}\n"
        )
        env = {
            **os.environ,
            "CAMPAIGN_SYNC_DATABASE_URL": plain(db_url),
            "CAMPAIGN_SYNC_LOG_FORMAT": "json",
            "VOX_KEY": vox_v3.DEMO_API_KEY,
            "VOX_V2_KEY": vox_v2.DEMO_API_KEY,
            "SARVAM_KEY": sarvam.DEMO_API_KEY,
        }
        command = run_command(config)
        replicas = [await stack.enter_async_context(daemon(command, env)) for _ in range(3)]
        send, receive = anyio.create_memory_object_stream[tuple[int, dict[str, Any]]](1000)
        stack.enter_context(send)
        stack.enter_context(receive)
        group = await stack.enter_async_context(anyio.create_task_group())
        for index, replica in enumerate(replicas):
            group.start_soon(read_logs, index, replica, stack.enter_context(send.clone()))
        finished: Counter[str] = Counter()

        async def until(done: Any) -> tuple[int, dict[str, Any]]:
            async for index, event in receive:
                if event.get("event") == "sync.finished" and event["status"] == "succeeded":
                    finished[event["target"]] += 1
                if done(index, event):
                    return index, event
            raise AssertionError("the replicas stopped logging")

        with anyio.fail_after(60):  # every target synced in three intervals
            await until(lambda i, e: len(finished) == 4 and min(finished.values()) >= 3)

        held.armed = True  # the next replica to sync vox_v3/held hangs, holding its lease
        with anyio.fail_after(30):
            await held.held.wait()
        holder = await row(engine, "SELECT lease_owner FROM sync_targets WHERE account = 'held'")
        pid = int(holder["lease_owner"].split("/")[1])
        victim = next(i for i, r in enumerate(replicas) if r.process.pid == pid)
        replicas[victim].process.kill()
        killed_at = time.monotonic()
        held.armed = False
        held.release()

        with anyio.fail_after(30):
            taker, _ = await until(
                lambda i, e: e.get("event") == "lease.takeover" and e["target"] == "vox_v3/held"
            )
        takeover_seconds = time.monotonic() - killed_at
        assert taker != victim
        after_takeover = dict(finished)
        with anyio.fail_after(60):  # two more intervals of every target, by the survivors
            await until(
                lambda i, e: all(finished[t] >= after_takeover.get(t, 0) + 2 for t in finished)
            )

        for index, replica in enumerate(replicas):
            if index != victim:
                replica.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            codes = [await r.process.wait() for i, r in enumerate(replicas) if i != victim]
        group.cancel_scope.cancel()

    assert codes == [0, 0]
    assert takeover_seconds <= LEASE_TTL + INTERVAL + 1.0  # +1 s for process scheduling
    async with engine.connect() as conn:
        runs = (
            await conn.execute(
                text(
                    "SELECT provider || '/' || account AS target, owner, status, pages, started_at, "
                    "finished_at, floor(extract(epoch FROM started_at) / :interval) AS slot "
                    "FROM sync_runs ORDER BY started_at"
                ),
                {"interval": INTERVAL},
            )
        ).all()
        duplicated_events = (
            await conn.execute(
                text("SELECT count(*) - count(DISTINCT event_id) FROM campaign_events")
            )
        ).scalar_one()
    per_slot = Counter((r.target, r.slot) for r in runs)
    assert max(per_slot.values()) == 1  # each (target, interval) synced once
    assert duplicated_events == 0
    owners = {r.owner.split("/")[1] for r in runs}
    assert len(owners) >= 2  # the replicas shared the work
    by_target: defaultdict[str, list[Any]] = defaultdict(list)
    for r in runs:
        by_target[r.target].append(r)
    for target, target_runs in by_target.items():
        for before, after in itertools.pairwise(target_runs):
            assert before.finished_at <= after.started_at, f"{target}: two runs overlapped"
    assert [r.status for r in by_target["vox_v3/held"]].count("abandoned") == 1
    # Every request the provider saw was a page of one recorded run (a run cut short by
    # the kill may have fetched a page it never wrote: at most a cycle's 5).
    counted_runs = by_target["vox_v3/counted"]
    committed = sum(r.pages for r in counted_runs)
    cut_short = sum(1 for r in counted_runs if r.status == "abandoned")
    assert committed <= counted.count <= committed + 5 * cut_short
