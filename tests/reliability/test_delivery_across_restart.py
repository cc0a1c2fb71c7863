"""Every way out of the outbox carries on across a restart of the database: the NATS relay
and the webhook sender inside ``campaign-sync run``, and a Python consumer beside it.
``/readyz`` goes red while the server is away and green once it is back; the events the
fleet makes afterwards reach all three, each once by id (first arrival for the webhook,
which is at least once), in each campaign's order. The suite owns this server."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy import text

from tests.daemon import Daemon, daemon, free_port, run_command
from tests.delivery.nats_server import (  # the fixtures are used by their names
    Names,
    js_fixture,  # noqa: F401
    names_fixture,  # noqa: F401
    nats_url_fixture,  # noqa: F401
)
from tests.delivery.receiver import SECRET, Receiver
from tests.helpers import Gate, stored_event_ids
from tests.reliability.invariants import as_received, check_invariants, first_arrivals
from tests.reliability.subscribers import consume, read_stream
from worker import subscribe
from worker.clock import ManualClock
from worker.runtime.http_server import serve
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app
from worker.storage import migrate
from worker.storage.embedded import EmbeddedPostgres
from worker.storage.engine import create_engine

pytestmark = [pytest.mark.slow, pytest.mark.storage]

TARGET = "vox_v3/fleet"


async def stored_ids(url: str) -> set[str]:
    engine = create_engine(url)  # a fresh one each time: the server comes and goes
    try:
        return await stored_event_ids(engine)
    finally:
        await engine.dispose()


async def until_everyone_has(url: str, got: Mapping[str, Callable[[], set[str]]]) -> None:
    """Until every subscriber holds every stored event (another process writes them)."""
    with anyio.fail_after(60):
        while True:
            want = await stored_ids(url)
            short = {name: len(want - ids()) for name, ids in got.items()}
            if want and not any(short.values()):
                return
            await anyio.sleep(0.2)


async def readyz_until(probe: httpx.AsyncClient, status: int) -> None:
    with anyio.fail_after(60):
        while (await probe.get("/readyz")).status_code != status:  # noqa: ASYNC110 - another process
            await anyio.sleep(0.1)


async def test_relay_webhooks_and_consumers_carry_on_across_a_database_restart(
    tmp_path: Path, nats_url: str, names: Names, js: JetStreamContext
) -> None:
    server = EmbeddedPostgres(tmp_path / "own-pgdata")
    url = await anyio.to_thread.run_sync(server.start)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    try:
        engine = create_engine(url)
        await migrate.upgrade(engine)
        await engine.dispose()
        clock = ManualClock(datetime(2026, 3, 2, 2, 50, tzinfo=UTC))
        app, _ = demo_app(clock, seed=8)
        gate = Gate(app, lambda method, path: path == "/v3/campaigns")
        receiver = Receiver()
        port = free_port()
        async with serve(gate) as sim, serve(receiver) as hook:
            config = tmp_path / "config.yaml"
            config.write_text(
                f"nats: {{url: '{nats_url}', stream: {names.stream},"
                f" subject_prefix: {names.prefix}}}\n"
                "targets:\n"
                f"  - {{provider: vox_v3, account: fleet, base_url: '{sim}',"
                " api_key: {env: KEY}, poll_interval: 1}\n"
                f"webhooks:\n  - {{name: hook, url: '{hook}/hooks', secret: {{env: HOOK}},"
                " timeout: 2}\n"
            )
            env = {
                **os.environ,
                "CAMPAIGN_SYNC_DATABASE_URL": dsn,
                "KEY": DEMO_API_KEY,
                "HOOK": SECRET,
                "CAMPAIGN_SYNC_LOG_FORMAT": "json",
            }
            command = run_command(config, health_port=port)
            consumed: list[dict[str, Any]] = []
            published: list[dict[str, Any]] = []
            nats_ids: list[str] = []
            async with (
                daemon(command, env) as worker,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe,
                subscribe(dsn, consumer="reporting", poll_interval=0.2) as events,
                anyio.create_task_group() as readers,
            ):
                readers.start_soon(consume, events, consumed)
                readers.start_soon(read_stream, js, names, published, nats_ids)
                got = {
                    "webhook": lambda: set(receiver.ids()),
                    "python": lambda: {str(e["id"]) for e in consumed},
                    "nats": lambda: set(nats_ids),
                }
                await finished(worker)
                await until_everyone_has(url, got)
                before = await stored_ids(url)

                # Mid-cycle: the fleet moves, and the next cycle's page is held in flight.
                gate.armed = True
                clock.advance(timedelta(hours=6))
                with anyio.fail_after(30):
                    await gate.held.wait()
                await anyio.to_thread.run_sync(server.stop)  # away under all of them
                await readyz_until(probe, 503)
                assert (await probe.get("/healthz")).status_code == 200  # alive: no restart
                gate.armed = False
                gate.release()  # the held cycle gets its page now, and cannot write it
                await worker.until(lambda line: line.get("event") == "sync.finished")
                await anyio.to_thread.run_sync(server.start)
                await readyz_until(probe, 200)
                await finished(worker, changed=True)  # the next cycle stores those changes
                await until_everyone_has(url, got)
                assert await stored_ids(url) > before
                assert await worker.stop() == 0
                readers.cancel_scope.cancel()

        engine = create_engine(url)
        try:
            await check_invariants(
                engine,
                once_per_interval=True,
                subscribers={
                    "webhook (first arrival of each id)": first_arrivals(receiver.accepted, TARGET),
                    "python consumer": as_received(consumed, TARGET),
                    "nats": as_received(published, TARGET),
                },
            )
            async with engine.connect() as conn:
                cut = await conn.execute(
                    text("SELECT count(*) FROM sync_runs WHERE status IN ('failed', 'abandoned')")
                )
                assert cut.scalar_one() >= 1  # the cycle the restart cut: rolled back, closed
        finally:
            await engine.dispose()
        assert len(nats_ids) == len(set(nats_ids))  # JetStream kept one copy of each
    finally:
        await anyio.to_thread.run_sync(server.stop)


async def finished(worker: Daemon, *, changed: bool = False) -> None:
    """Until a cycle of the fleet ends (one that stored changes, with ``changed``)."""
    await worker.until(
        lambda line: (
            line.get("event") == "sync.finished"
            and line.get("status") == "succeeded"
            and (line["changed"] > 0 or not changed)
        )
    )
