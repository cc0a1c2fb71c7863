"""``campaign_sync_outbox_backlog`` as Prometheus scrapes it from ``/metrics``: every durable
consumer has a series, 0 once it has caught up (not its last lag > 0 forever), and a
deleted consumer's series goes away."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial

import anyio
import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.delivery.outbox import ACME, campaign, writers
from worker.clock import ManualClock
from worker.config import HealthSettings
from worker.ports import ConsumerLease, Position
from worker.runtime.health import health_app
from worker.runtime.watchdog import Watchdog
from worker.storage.consumers import PostgresConsumers
from worker.storage.feed import EventFeed
from worker.storage.postgres import PostgresStore
from worker.storage.reporting import outbox_backlog

Backlogs = Mapping[str, float]


async def _ready() -> dict[str, str | None]:
    return {}


@asynccontextmanager
async def exported(engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The daemon's backlog exporter running on ``engine``, and a client of its ``/metrics``."""
    watchdog = Watchdog(HealthSettings(backlog_seconds=0.05), {}, lambda _: [])
    app = health_app(list, _ready)
    async with (
        anyio.create_task_group() as group,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w") as probe,
    ):
        group.start_soon(watchdog.export_backlog, partial(outbox_backlog, engine))
        yield probe
        group.cancel_scope.cancel()


async def scrape_until(probe: httpx.AsyncClient, done: Callable[[Backlogs], bool]) -> Backlogs:
    """The backlog series on ``/metrics`` once ``done`` holds (polled, bounded)."""
    with anyio.fail_after(10):
        while True:
            text = (await probe.get("/metrics")).text
            backlogs = {
                s.labels["consumer"]: s.value
                for family in text_string_to_metric_families(text)
                if family.name == "campaign_sync_outbox_backlog"
                for s in family.samples
            }
            if done(backlogs):
                return backlogs
            await anyio.sleep(0.05)


async def last_position(engine: AsyncEngine) -> Position:
    async with EventFeed(engine) as feed:
        return [e async for batch in feed.batches(follow=False) for e in batch][-1].position


async def test_every_consumer_is_exported_caught_up_or_not_and_a_deleted_one_goes(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    tag = uuid.uuid4().hex[:8]  # the registry is the process's: names of this test's own
    idle, behind = f"idle-{tag}", f"behind-{tag}"
    consumers = PostgresConsumers(engine)
    async with writers(PostgresStore(engine)) as (acme, _):
        await acme.write(campaign(ACME, "1"), campaign(ACME, "2"))
    last = await last_position(engine)
    leases = {}
    for name in (idle, behind):
        lease = await consumers.claim(name, owner="t", now=clock.now(), ttl=30)
        assert isinstance(lease, ConsumerLease)
        leases[name] = lease
    await consumers.ack(leases[idle], last, clock.now())  # caught up before the first read
    async with exported(engine) as probe:
        seen = await scrape_until(probe, lambda b: behind in b)
        assert (seen[behind], seen.get(idle)) == (2, 0)  # 0 is a value too
        await consumers.ack(leases[behind], last, clock.now())
        await scrape_until(probe, lambda b: b.get(behind) == 0)  # not stuck at its last lag
        await consumers.release(leases[idle])
        assert await consumers.delete(idle, clock.now()) is True
        seen = await scrape_until(probe, lambda b: idle not in b)  # gone with its consumer
        assert seen[behind] == 0
