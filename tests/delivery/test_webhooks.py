"""Signed webhooks: at least once, in each campaign's order, retried on a clock the test
controls, disabled by a 410 and re-driven from dead letters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import anyio
import httpx
from pydantic import SecretStr
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.acceptance.test_cli import cli, plain
from tests.delivery.outbox import ACME, GLOBEX, T, campaign, out_of_order, writers
from tests.delivery.receiver import SECRET, Receiver
from tests.helpers import row
from worker.clock import ManualClock
from worker.config import Settings, WebhookSettings
from worker.delivery.webhook import RETRY_SCHEDULE, WebhookSink
from worker.ports import Position
from worker.runtime.app import open_runtime
from worker.storage.consumers import PostgresConsumers
from worker.storage.feed import EventFeed
from worker.storage.postgres import PostgresStore
from worker.storage.webhooks import PostgresWebhooks

URL_ = "http://receiver.test/hooks"


@asynccontextmanager
async def sink_for(
    engine: AsyncEngine, receiver: Receiver, clock: ManualClock, **settings: Any
) -> AsyncIterator[WebhookSink]:
    config = WebhookSettings(name="billing", url=URL_, secret=SecretStr(SECRET), **settings)
    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as client:
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


async def write_events(
    engine: AsyncEngine, n_per_campaign: int = 3, *, start: datetime = T
) -> None:
    store = PostgresStore(engine)
    async with writers(store, start) as (acme, globex):
        for i in range(n_per_campaign):
            await acme.write(campaign(ACME, "a", completed=i))
            await globex.write(campaign(GLOBEX, "g", completed=i))


async def drain(sink: WebhookSink, clock: ManualClock, rounds: int = 20) -> None:
    """Send what is due, moving the clock to each next attempt, until nothing is pending."""
    webhooks = PostgresWebhooks(sink._store.engine)  # type: ignore[attr-defined]
    for _ in range(rounds):
        while await sink.send_due():
            pass
        if not await webhooks.backlog(sink.name):
            return
        clock.advance(timedelta(seconds=max(RETRY_SCHEDULE) * 1.2))


async def test_a_receiver_down_for_a_while_gets_every_event_once_in_campaign_order(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    await write_events(engine)
    receiver = Receiver(mode="down")
    async with sink_for(engine, receiver, clock) as sink:
        assert await sink.enqueue() == 6
        for _ in range(3):  # three failed rounds: now, +5 s, +5 min
            assert await sink.send_due() == 2  # one per campaign: order is kept
            clock.advance(timedelta(seconds=400))
        receiver.mode = "up"
        await drain(sink, clock)
    assert len(receiver.ids()) == len(set(receiver.ids())) == 6  # every event once
    by_campaign: dict[str, list[int]] = {}
    for delivered in receiver.accepted:
        by_campaign.setdefault(delivered["subject"], []).append(delivered["campaignversion"])
    assert by_campaign == {"a": [1, 2, 3], "g": [1, 2, 3]}  # in each campaign's order
    assert await row(
        engine, "SELECT count(*) FILTER (WHERE status = 'delivered') AS ok, max(attempts) AS most "
        "FROM webhook_deliveries"
    ) == {"ok": 6, "most": 4}  # fmt: skip


async def test_a_failing_campaign_holds_back_only_itself(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    await write_events(engine, n_per_campaign=2)

    class Picky(Receiver):
        async def _answer(self, body: bytes, headers: dict[str, str]) -> int:
            return 503 if b'"subject": "a"' in body else await super()._answer(body, headers)

    receiver = Picky()
    async with sink_for(engine, receiver, clock) as sink:
        await sink.enqueue()
        for _ in range(3):
            await sink.send_due()
            clock.advance(timedelta(seconds=10))
    assert receiver.subjects() == ["g", "g"]  # campaign a keeps failing; g went on


async def test_late_commits_reach_the_webhook_too(engine: AsyncEngine, clock: ManualClock) -> None:
    receiver = Receiver()
    store = PostgresStore(engine)
    async with writers(store) as (acme, globex), sink_for(engine, receiver, clock) as sink:

        async def between() -> None:
            assert await sink.enqueue() == 0  # the later id committed; the earlier is in flight

        await out_of_order(acme, globex, between)
        assert await sink.enqueue() == 2
        await drain(sink, clock)
    assert receiver.subjects() == ["early", "late"]


async def test_a_410_disables_the_sink_and_redeliver_sends_its_dead_letters(
    db_url: URL, engine: AsyncEngine, clock: ManualClock
) -> None:
    await write_events(engine, n_per_campaign=2)
    receiver = Receiver(mode="gone")
    async with sink_for(engine, receiver, clock) as sink:
        await sink.enqueue()
        await sink.send_due()
        state = await PostgresWebhooks(engine).state("billing")
        assert state.disabled_reason == "the endpoint answered 410 Gone"
        # More events while it is disabled.
        await write_events(engine, n_per_campaign=1, start=T + timedelta(hours=1))
        await sink.enqueue()
        assert await sink.send_due() == 0
        letters = await PostgresWebhooks(engine).dead_letters("billing")
        assert len(letters) == 6
        env = {"CAMPAIGN_SYNC_DATABASE_URL": plain(db_url)}
        listed = await cli("events", "dead-letters", env=env)
        assert listed.returncode == 0, listed.stderr
        assert len(listed.stdout.strip().splitlines()) == 1 + 6  # a header, then each letter
        receiver.mode = "up"  # the endpoint is back
        redriven = await cli("events", "redeliver", "--sink", "billing", env=env)
        assert redriven.returncode == 0, redriven.stderr
        assert (
            redriven.stdout.strip() == "billing: 6 dead letters queued again; the sink is enabled"
        )
        await drain(sink, clock)
    assert len(set(receiver.ids())) == 6
    assert (await PostgresWebhooks(engine).state("billing")).disabled_at is None


async def test_retry_after_and_redirects_and_deadlines_are_failures_with_their_waits(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    await write_events(engine, n_per_campaign=1)
    receiver = Receiver(mode="moved")
    async with sink_for(engine, receiver, clock, timeout=0.2) as sink:
        await sink.enqueue()
        await sink.send_due()  # 302: a failure, not followed
        receiver.mode, receiver.retry_after = "down", "3600"
        clock.advance(timedelta(seconds=6))
        await sink.send_due()  # 503 with Retry-After: 1 h, past the 5 min of the schedule
        waits = await row(
            engine,
            "SELECT min(next_attempt_at) AS due, max(last_status) AS status FROM webhook_deliveries",
        )
        assert waits["due"] >= clock.now() + timedelta(seconds=3600)
        receiver.mode, receiver.retry_after = "slow", None
        clock.advance(timedelta(seconds=3700))
        await sink.send_due()  # the receiver never answers: the attempt's deadline ends it
    errors = await row(
        engine, "SELECT string_agg(DISTINCT last_error, ',') AS e FROM webhook_deliveries"
    )
    assert errors == {"e": "timed out after 0.2 s"}
    assert receiver.accepted == []


async def test_two_senders_never_send_the_same_attempt_at_once(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    await write_events(engine, n_per_campaign=1)
    receiver = Receiver(mode="slow")
    async with sink_for(engine, receiver, clock) as one, sink_for(engine, receiver, clock) as two:
        await one.enqueue()
        sent: list[int] = []

        async def send(sink: WebhookSink) -> None:
            sent.append(await sink.send_due())

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(send, one)
                tg.start_soon(send, two)
                while receiver.in_flight < 2:
                    await anyio.lowlevel.checkpoint()
                receiver.mode = "up"
                receiver.release.set()
    assert sorted(sent) in ([0, 2], [1, 1])  # two deliveries, each claimed by one sender
    assert sorted(receiver.ids()) == sorted(set(receiver.ids())) and len(receiver.ids()) == 2


async def test_failing_for_days_disables_the_sink(engine: AsyncEngine, clock: ManualClock) -> None:
    await write_events(engine, n_per_campaign=1)
    receiver = Receiver(mode="down")
    async with sink_for(engine, receiver, clock, disable_after=86_400) as sink:
        await sink.enqueue()
        for _ in range(6):
            await sink.send_due()
            clock.advance(timedelta(hours=5.5))
    state = await PostgresWebhooks(engine).state("billing")
    assert state.disabled_reason == "no success for 86400 s (disable_after)"


def test_retry_schedule_is_the_documented_one() -> None:
    assert RETRY_SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert Position() < Position(xid=1)


async def test_a_configured_sink_gets_only_the_types_and_providers_it_asks_for(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    await write_events(engine, n_per_campaign=2)
    receiver = Receiver()
    config = WebhookSettings(
        name="narrow",
        url=URL_,
        secret=SecretStr(SECRET),
        types=("campaign.progress",),
        providers=("vox_v3",),
    )
    async with open_runtime(
        Settings(webhooks=(config,)),
        clock=clock,
        engine=engine,
        transports={"webhook:narrow": httpx.ASGITransport(app=receiver)},
    ) as rt:
        (sink,) = rt.sinks
        await sink.register()
        assert await sink.enqueue() == 1
        await drain(sink, clock)
    assert [(a["type"], a["source"]) for a in receiver.accepted] == [
        ("campaign.progress", "campaign-sync/vox_v3/acme")
    ]
