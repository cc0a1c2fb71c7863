"""Stopping ``subscribe()`` the structured way, with a cancel scope: it lets go of its lease
and its connections quietly (nothing logged as an error, no traceback on stderr), and the
cursor keeps what was acknowledged."""

from __future__ import annotations

import logging

import anyio
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.acceptance.test_cli import plain
from tests.delivery.outbox import ACME, campaign, writers
from worker import subscribe
from worker.clock import SystemClock
from worker.storage.consumers import PostgresConsumers
from worker.storage.postgres import PostgresStore


async def stop_while(db_url: URL, *, waiting: bool, consumer: str) -> list[str]:
    """Receive events, then cancel the subscription from outside: once it has acknowledged
    both and waits for more (``waiting``), or while it holds the first, unacknowledged."""
    received: list[str] = []
    ready = anyio.Event()

    async def consume() -> None:
        async with subscribe(plain(db_url), consumer=consumer, poll_interval=0.1) as events:
            async for event in events:
                received.append(event["subject"])
                if not waiting:
                    ready.set()
                    await anyio.sleep_forever()  # busy with it when the stop comes
                await event.ack()
                if len(received) == 2:
                    ready.set()  # and back to waiting on the feed

    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            group.start_soon(consume)
            await ready.wait()
            await anyio.wait_all_tasks_blocked()  # it is parked on its next wait
            group.cancel_scope.cancel()
    return received


@pytest.mark.parametrize("waiting", [True, False], ids=["idle", "holding-an-event"])
async def test_a_cancelled_subscription_stops_quietly_and_keeps_its_cursor(
    db_url: URL,
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    waiting: bool,
) -> None:
    store = PostgresStore(engine)
    async with writers(store) as (acme, _):
        await acme.write(campaign(ACME, "1"))
        await acme.write(campaign(ACME, "2"))
    caplog.set_level(logging.DEBUG)  # every logger, SQLAlchemy's pool included
    received = await stop_while(db_url, waiting=waiting, consumer="stopped")

    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert loud == [], [f"{r.name}: {r.getMessage()}" for r in loud]
    _, stderr = capfd.readouterr()
    assert "Traceback" not in stderr and "CancelledError" not in stderr, stderr
    (info,) = await PostgresConsumers(engine).list(SystemClock().now())
    assert info.owner is None  # the lease was given back, not left to expire
    assert info.lag_events == (0 if waiting else 2)  # what was acknowledged, and no more
    assert received == (["1", "2"] if waiting else ["1"])
