"""What the ``events`` commands need from the database: the outbox, consumers and webhook state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from worker.config import Settings
from worker.errors import ConfigError
from worker.ports import Position
from worker.runtime.database import open_database, require_schema
from worker.storage.consumers import PostgresConsumers
from worker.storage.engine import Database
from worker.storage.feed import EventFeed
from worker.storage.outbox import position_after_event, position_before_time
from worker.storage.webhooks import PostgresWebhooks

__all__ = ["Admin", "open_admin"]


@dataclass(frozen=True, slots=True)
class Admin:
    """What the ``events`` commands need: the outbox, consumers and webhook state."""

    engine: Database
    consumers: PostgresConsumers
    webhooks: PostgresWebhooks

    def feed(
        self,
        after: Position,
        *,
        types: Sequence[str] | None = None,
        providers: Sequence[str] | None = None,
        poll_interval: float = 1.0,
    ) -> EventFeed:
        """The gap-free feed after ``after``."""
        return EventFeed(
            self.engine, after=after, types=types, providers=providers, poll_interval=poll_interval
        )

    async def position(self, since: str) -> Position:
        """Where ``--since``/``--from`` starts: before an event id, or before a time.

        Raises:
            ConfigError: neither an event id that exists nor an ISO-8601 time.
        """
        async with self.engine.connect() as conn:
            if since.isdigit():
                found = await position_after_event(conn, int(since))
                if found is None:
                    raise ConfigError(f"no event with id {since} (see campaign_events.id)")
                return Position(xid=found.xid, id=found.id - 1)
            try:
                when = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                raise ConfigError(
                    f"--since/--from {since!r} is neither an event id nor an ISO-8601 time"
                ) from None
            if when.utcoffset() is None:
                raise ConfigError(f"--since/--from {since!r} needs a UTC offset (e.g. Z)")
            return await position_before_time(conn, when)


@asynccontextmanager
async def open_admin(settings: Settings) -> AsyncIterator[Admin]:
    """The database parts of the ``events`` commands (the schema must be current)."""
    async with open_database(settings) as engine:
        await require_schema(engine)
        yield Admin(engine, PostgresConsumers(engine), PostgresWebhooks(engine))
