"""A webhook receiver that answers again is healthy: one success brings the sink's other
waiting deliveries forward (each campaign still in order), without using up their retries,
and never sooner than a Retry-After the receiver asked for. A real receiver on loopback; the
clock is the test's, so no retry is waited for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.delivery.outbox import ACME, GLOBEX, T, campaign, writers
from tests.delivery.receiver import SECRET, Receiver
from tests.helpers import row
from worker.clock import ManualClock
from worker.config import WebhookSettings
from worker.delivery.webhook import WebhookSink
from worker.domain.campaign import TargetKey
from worker.runtime.http_server import serve
from worker.storage.consumers import PostgresConsumers
from worker.storage.feed import EventFeed
from worker.storage.postgres import PostgresStore
from worker.storage.webhooks import PostgresWebhooks


@asynccontextmanager
async def sink_on_loopback(
    engine: AsyncEngine, receiver: Receiver, clock: ManualClock
) -> AsyncIterator[WebhookSink]:
    async with serve(receiver) as base, httpx.AsyncClient(follow_redirects=False) as client:
        config = WebhookSettings(name="billing", url=f"{base}/hooks", secret=SecretStr(SECRET))
        sink = WebhookSink(
            config,
            PostgresWebhooks(engine),
            PostgresConsumers(engine),
            lambda after: EventFeed(engine, after=after, poll_interval=0.1),
            client,
            clock=clock,
            owner="test",
        )
        await sink.register()
        yield sink


async def send_all_due(sink: WebhookSink) -> int:
    """Rounds of sending at the clock's present, as the sender loops, until nothing is due."""
    sent = 0
    while n := await sink.send_due():
        sent += n
    return sent


async def write(engine: AsyncEngine, *campaigns: tuple[TargetKey, str, int]) -> None:
    """Versions of campaigns, one page each, through the real store."""
    async with writers(PostgresStore(engine), T) as (acme, globex):
        for target, cid, completed in campaigns:
            await (acme if target == ACME else globex).write(campaign(target, cid, completed))


async def deliveries(engine: AsyncEngine) -> dict[str, Any]:
    return await row(
        engine,
        "SELECT count(*) FILTER (WHERE status = 'delivered') AS delivered, "
        "count(*) FILTER (WHERE status = 'pending') AS pending, max(attempts) AS attempts "
        "FROM webhook_deliveries",
    )


async def test_a_success_brings_the_sinks_waiting_deliveries_forward(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    receiver = Receiver(mode="down")
    await write(engine, (ACME, "a", 0), (ACME, "a", 1), (GLOBEX, "g", 0))
    async with sink_on_loopback(engine, receiver, clock) as sink:
        await sink.enqueue()
        assert await send_all_due(sink) == 2  # "a" v1 and "g" fail; "a" v2 waits behind v1
        clock.advance(timedelta(seconds=6))
        assert await send_all_due(sink) == 2  # the 5 s retry fails too: next is in ~5 min
        clock.advance(timedelta(seconds=24))  # 30 s into the outage, the receiver is back
        receiver.mode = "up"
        assert await send_all_due(sink) == 0  # nothing is due by the schedule alone
        await write(engine, (GLOBEX, "h", 0))  # a new event of another campaign
        await sink.enqueue()
        await send_all_due(sink)
    # Its success at +30 s brought the waiting ones forward: no 5-minute wait.
    assert sorted(receiver.subjects()) == ["a", "a", "g", "h"]
    versions = [(d["subject"], d["campaignversion"]) for d in receiver.accepted]
    assert [v for v in versions if v[0] == "a"] == [("a", 1), ("a", 2)]  # still in order
    assert await deliveries(engine) == {"delivered": 4, "pending": 0, "attempts": 3}


async def test_an_early_attempt_that_fails_keeps_its_schedule_and_retry_after_is_kept(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    class Picky(Receiver):
        """Accepts campaign h only; asks campaign g to come back in an hour."""

        async def _answer(self, body: bytes, headers: dict[str, str]) -> int:
            if b'"subject": "h"' in body:
                return await super()._answer(body, headers)
            self.retry_after = "3600" if b'"subject": "g"' in body else None
            return 503

    receiver = Picky()
    await write(engine, (ACME, "a", 0), (GLOBEX, "g", 0))
    async with sink_on_loopback(engine, receiver, clock) as sink:
        await sink.enqueue()
        await send_all_due(sink)  # both fail; g is told to wait an hour
        clock.advance(timedelta(seconds=6))
        await send_all_due(sink)  # a fails again (attempt 2); g's hour holds
        scheduled = await row(
            engine, "SELECT attempts, next_attempt_at FROM webhook_deliveries WHERE attempts = 2"
        )
        before = receiver.attempts
        clock.advance(timedelta(seconds=10))
        await write(engine, (GLOBEX, "h", 0))
        await sink.enqueue()
        await send_all_due(sink)  # h succeeds; a is tried early and fails; g waits
        assert receiver.attempts - before == 2  # h, then a once: not g, and a not again
        assert receiver.subjects() == ["h"]
        # The early try used no retry: a keeps its attempts and its 5-minute slot.
        assert (
            await row(
                engine,
                "SELECT attempts, next_attempt_at FROM webhook_deliveries WHERE attempts = 2",
            )
            == scheduled
        )
        g = await row(
            engine,
            "SELECT attempts, next_attempt_at - created_at AS wait FROM webhook_deliveries "
            "WHERE campaign_id = 'g'",
        )
        assert g["attempts"] == 1 and g["wait"] >= timedelta(hours=1)
