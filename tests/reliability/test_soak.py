"""The soak: one simulated day of the whole worker, its footprint flat, nothing lost.

Every provider's demo simulator runs on an accelerated clock (a day in
``DAY_SECONDS``), with a burst of provider faults (a 429, a 5xx and a truncated
body) injected into one of them every few seconds. The worker runs as ``run`` composes
it: the real scheduler, the pipeline, a webhook sink and the NATS relay; a Python
consumer reads beside it. Every ``SAMPLE_SECONDS`` the test reads this process's
resident memory, its open file descriptors and the database's connections, and prints
the first, settled and last samples. At the end the outbox and the webhook backlog
drain and the shared invariants hold. Behind the ``soak`` marker: ``pytest -m soak``
runs it (``.ci/run`` does, once); the README's test command skips it.
"""

from __future__ import annotations

import itertools
import os
import re
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from nats.js import JetStreamContext
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon import plain
from tests.delivery.nats_server import (  # the fixtures are used by their names
    Names,
    js_fixture,  # noqa: F401
    names_fixture,  # noqa: F401
    nats_url_fixture,  # noqa: F401
)
from tests.delivery.receiver import SECRET, Receiver
from tests.helpers import backends, stored_event_ids
from tests.reliability.invariants import as_received, check_invariants, first_arrivals
from tests.reliability.subscribers import consume, read_stream
from worker import subscribe
from worker.cli.simulate import SECONDS_PER_DAY, demo_simulators, demo_start
from worker.clock import AcceleratedClock
from worker.config import NatsSettings, Settings, WebhookSettings
from worker.runtime.app import open_runtime
from worker.runtime.http_server import serve
from worker.runtime.scheduler import SyncScheduler
from worker.storage.webhooks import PostgresWebhooks

pytestmark = [pytest.mark.soak, pytest.mark.slow, pytest.mark.timeout(600)]

DAY_SECONDS = 120.0  # real seconds per simulated day
POLL_SECONDS = 1.0
SAMPLE_SECONDS = 5.0  # a sampling period: the figures are read, not waited for
WARM_UP_SAMPLES = 3  # pools fill, caches and imports settle in the first seconds
MAX_RSS_GROWTH_MIB = 32.0
MAX_FD_GROWTH = 4
POOL = 5 + 5  # create_engine's pool and its overflow
FAULT_BURST = {"rate_limited": 1, "server_errors": 1, "truncated": 1}


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_mib: float
    fds: int
    connections: int

    def __str__(self) -> str:
        return (
            f"t={self.seconds:5.0f} s  rss={self.rss_mib:6.1f} MiB  fds={self.fds:3d}"
            f"  db connections={self.connections}"
        )


def rss_mib() -> float:
    match = re.search(r"^VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    assert match
    return int(match.group(1)) / 1024


async def test_a_simulated_day_keeps_the_footprint_flat_and_loses_nothing(
    db_url: URL, engine: AsyncEngine, nats_url: str, names: Names, js: JetStreamContext
) -> None:
    speed = SECONDS_PER_DAY / DAY_SECONDS
    clock = AcceleratedClock(demo_start(datetime.now(UTC)), speed)
    receiver = Receiver()
    samples: list[Sample] = []
    consumed: list[dict[str, Any]] = []
    published: list[dict[str, Any]] = []
    bursts = 0
    async with AsyncExitStack() as stack:
        sims: list[str] = []
        targets = []
        for sim in demo_simulators():
            app, _ = sim.build(clock, seed=11)
            sims.append(await stack.enter_async_context(serve(app)))
            # As the demo does: a copy skips the 1-second floor of user settings.
            targets.append(sim.target(sims[-1]).model_copy(update={"poll_interval": POLL_SECONDS}))
        hook = await stack.enter_async_context(serve(receiver))
        admin = await stack.enter_async_context(httpx.AsyncClient())
        settings = Settings(
            targets=tuple(targets),
            webhooks=(
                WebhookSettings(
                    name="soak", url=f"{hook}/hooks", secret=SecretStr(SECRET), timeout=5
                ),
            ),
            nats=NatsSettings(url=nats_url, stream=names.stream, subject_prefix=names.prefix),
        )
        runtime = await stack.enter_async_context(
            open_runtime(settings, clock=clock, engine=engine)
        )
        events = await stack.enter_async_context(
            subscribe(plain(db_url), consumer="soak", poll_interval=0.5)
        )
        async with anyio.create_task_group() as workers:
            for delivery in runtime.deliveries():
                workers.start_soon(delivery)
            workers.start_soon(consume, events, consumed)
            workers.start_soon(read_stream, js, names, published, [])
            intervals = {t.name: t.poll_interval for t in settings.targets}
            faulted = itertools.cycle(sims)
            began = anyio.current_time()
            async with SyncScheduler(
                partial(runtime.sync_target, force=False), intervals, grace_seconds=5
            ):
                while (elapsed := anyio.current_time() - began) < DAY_SECONDS:
                    fds = len(os.listdir("/proc/self/fd"))
                    samples.append(Sample(elapsed, rss_mib(), fds, await backends(engine)))
                    put = await admin.put(f"{next(faulted)}/_sim/faults", json=FAULT_BURST)
                    assert put.status_code == 200, put.text
                    bursts += 1
                    await anyio.sleep(SAMPLE_SECONDS)
            await drained(engine, receiver, consumed, published)
            workers.cancel_scope.cancel()

    settled, last = samples[WARM_UP_SAMPLES], samples[-1]
    print(
        f"\nsoak: a simulated day in {DAY_SECONDS:g} s, sampled every {SAMPLE_SECONDS:g} s"
        f"\n  at the start  {samples[0]}\n  after warm-up {settled}\n  at the end    {last}"
    )
    async with engine.connect() as conn:
        by_status = await conn.execute(text("SELECT status, count(*) FROM sync_runs GROUP BY 1"))
        runs = {str(status): int(n) for status, n in by_status}
    print(f"  runs by status: {runs}; {len(await stored_event_ids(engine))} events")
    assert runs.get("succeeded", 0) >= 4 * DAY_SECONDS / POLL_SECONDS / 2  # most cycles ran
    retries = sum(
        s.value
        for family in REGISTRY.collect()
        for s in family.samples
        if s.name == "campaign_sync_provider_retries_total"
    )
    assert retries >= bursts, (retries, bursts)  # each burst's 429 and 5xx were met, retried
    assert last.rss_mib - settled.rss_mib <= MAX_RSS_GROWTH_MIB, samples
    assert last.fds - settled.fds <= MAX_FD_GROWTH, samples
    assert max(s.connections for s in samples) <= 2 * POOL, (
        samples
    )  # the worker's and the consumer's
    assert last.connections <= settled.connections + 2, samples
    # Not once_per_interval: run times are on the accelerated clock, slots on real time.
    await check_invariants(
        engine,
        subscribers={
            "webhook (first arrival of each id)": first_arrivals(receiver.accepted),
            "python consumer": as_received(consumed),
            "nats": as_received(published),
        },
    )
    assert await PostgresWebhooks(engine).backlog("soak") == 0


async def drained(
    engine: AsyncEngine,
    receiver: Receiver,
    consumed: list[dict[str, Any]],
    published: list[dict[str, Any]],
) -> None:
    """Until the outbox has reached every subscriber and the webhook backlog is empty."""
    webhooks = PostgresWebhooks(engine)
    with anyio.fail_after(120):
        while True:
            want = await stored_event_ids(engine)
            got = [set(receiver.ids()), {e["id"] for e in consumed}, {e["id"] for e in published}]
            if all(want <= ids for ids in got) and not await webhooks.backlog("soak"):
                return
            await anyio.sleep(0.5)
