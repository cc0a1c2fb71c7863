"""The public Python API: ``from worker import subscribe``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio

from worker.clock import SystemClock
from worker.delivery.subscribe import Subscription
from worker.ports import Clock, Position
from worker.runtime.database import require_schema, worker_name
from worker.storage.consumers import PostgresConsumers
from worker.storage.engine import create_engine
from worker.storage.feed import EventFeed

__all__ = ["subscribe"]


@asynccontextmanager
async def subscribe(
    dsn: str,
    *,
    consumer: str,
    types: Sequence[str] | None = None,
    providers: Sequence[str] | None = None,
    poll_interval: float = 1.0,
    lease_ttl: float = 30.0,
    clock: Clock | None = None,
) -> AsyncIterator[Subscription]:
    """Subscribe to the change events as the durable consumer ``consumer``.

    Args:
        dsn: the worker's PostgreSQL URL (``postgresql://…``).
        types: CloudEvents types to receive (e.g. ``["campaign.paused"]``); all by default.
        providers: providers to receive from (e.g. ``["vox_v3"]``); all by default.
        poll_interval: seconds between reads when no NOTIFY arrives (the fallback).
        lease_ttl: seconds another process waits after this one dies before taking over.

    Raises:
        ConfigError: the URL is not a PostgreSQL URL.
        StorageError: the database cannot be used (or its schema is not current).
    """
    engine = create_engine(dsn)
    try:
        await require_schema(engine)

        def open_feed(after: Position) -> EventFeed:
            return EventFeed(
                engine,
                after=after,
                poll_interval=poll_interval,
                types=types,
                providers=providers,
            )

        async with Subscription(
            PostgresConsumers(engine),
            open_feed,
            name=consumer,
            owner=worker_name(),
            clock=clock or SystemClock(),
            types=types,
            providers=providers,
            lease_ttl=lease_ttl,
            standby_poll=poll_interval,
        ) as subscription:
            yield subscription
    finally:
        # Shielded: a caller that stops the subscription with a cancel scope still has its
        # connections closed, rather than each interrupted close logged as an error.
        with anyio.CancelScope(shield=True):
            await engine.dispose()
