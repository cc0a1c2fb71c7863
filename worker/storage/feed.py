"""Follow the event outbox: catch up by id, then wake on NOTIFY or every poll interval.

The ``campaign_events`` table is the truth; NOTIFY only says "look again". This
is the one module that holds a LISTEN connection. A lost connection is
re-opened on the next wait, so a follower survives a database restart.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from worker.domain.campaign import CampaignKey
from worker.domain.events import ChangeEvent, EventKind
from worker.errors import StorageError
from worker.storage.engine import storage_errors
from worker.storage.tables import NOTIFY_CHANNEL, campaign_events

__all__ = ["EventFeed"]

log = logging.getLogger(__name__)


class EventFeed:
    """Events after ``after_id`` in id order, as they land.

    Use as an async context manager, then iterate :meth:`batches`.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        after_id: int = 0,
        poll_interval: float = 1.0,
        batch_size: int = 500,
    ) -> None:
        self.engine = engine
        self.cursor = after_id
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self._conn: AsyncConnection | None = None
        self._driver: Any = None
        self._wake = anyio.Event()

    async def __aenter__(self) -> Self:
        await self._connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await self._close()

    async def _connect(self) -> None:
        with storage_errors("listening for events"):
            conn = await self.engine.connect()
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            raw = await conn.get_raw_connection()
            self._driver = raw.driver_connection
            await self._driver.add_listener(NOTIFY_CHANNEL, self._notified)
            self._conn = conn

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await self._driver.remove_listener(NOTIFY_CHANNEL, self._notified)
        except Exception:  # noqa: BLE001 - the connection may already be gone
            log.debug("listener removal failed", extra={"event": "feed.unlisten_failed"})
        await conn.close()

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def fetch(self) -> list[ChangeEvent]:
        """The next events after the cursor (up to ``batch_size``), advancing it."""
        if self._conn is None:
            await self._connect()
        assert self._conn is not None
        stmt = (
            select(campaign_events)
            .where(campaign_events.c.id > self.cursor)
            .order_by(campaign_events.c.id)
            .limit(self.batch_size)
        )
        with storage_errors("reading events"):
            rows = (await self._conn.execute(stmt)).all()
        if rows:
            self.cursor = rows[-1].id
        return [_event(row._mapping) for row in rows]

    async def batches(self) -> AsyncIterator[list[ChangeEvent]]:
        """Yield non-empty batches forever: catch up, then wait for NOTIFY or the poll."""
        while True:
            try:
                batch = await self.fetch()
            except StorageError as exc:
                log.warning(
                    "event feed lost its connection: %s", exc, extra={"event": "feed.reconnect"}
                )
                await self._close()
                await anyio.sleep(self.poll_interval)
                continue
            if batch:
                yield batch
                continue
            with anyio.move_on_after(self.poll_interval):
                await self._wake.wait()
            self._wake = anyio.Event()


def _event(row: Any) -> ChangeEvent:
    return ChangeEvent(
        event_id=str(row["event_id"]),
        kind=EventKind.of_type(row["type"]),
        key=CampaignKey(
            provider=row["provider"], account=row["account"], campaign_id=row["campaign_id"]
        ),
        version=row["version"],
        occurred_at=row["occurred_at"],
        detected_at=row["detected_at"],
        data=row["data"],
    )
