"""Follow the event outbox: catch up in the gap-free order, then wake on NOTIFY or
every poll interval.

The ``campaign_events`` table is the truth; NOTIFY only says "look again". This
is the one module that holds a LISTEN connection. Reads follow
``worker.storage.outbox`` (order ``(xid, id)``, settled transactions only). A
lost connection is re-opened on the next wait, so a follower survives a
database restart.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, Self

import anyio
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from worker.errors import StorageError
from worker.observability import loggers
from worker.ports import OutboxEvent, Position
from worker.storage.engine import storage_errors
from worker.storage.outbox import read_after
from worker.storage.tables import NOTIFY_CHANNEL

__all__ = ["EventFeed"]

log = logging.getLogger(loggers.FEED)


class EventFeed:
    """Events after ``after`` in the outbox's gap-free order, as they land.

    Use as an async context manager, then iterate :meth:`batches`. ``types`` and
    ``providers`` narrow what is returned; ``cursor`` still passes the rest.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        after: Position = Position(),  # noqa: B008 - a frozen value
        poll_interval: float = 1.0,
        batch_size: int = 500,
        types: Sequence[str] | None = None,
        providers: Sequence[str] | None = None,
    ) -> None:
        self.engine = engine
        self.cursor = after
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.types = None if types is None else tuple(types)
        self.providers = None if providers is None else tuple(providers)
        self._conn: AsyncConnection | None = None
        self._driver: Any = None
        self._wake = anyio.Event()
        self._rewinds = 0  # a read that straddles a rewind is dropped

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
        with contextlib.suppress(Exception):
            await conn.close()

    def _notified(self, *_: object) -> None:
        self._wake.set()

    def rewind(self, position: Position) -> None:
        """Read on after ``position`` (a replay): the next batch starts there, and a read
        under way now is dropped rather than moving the cursor past it."""
        self.cursor = position
        self._rewinds += 1
        self._wake.set()

    async def fetch(self) -> list[OutboxEvent]:
        """The next settled events after the cursor (up to ``batch_size`` scanned), advancing it."""
        if self._conn is None:
            await self._connect()
        assert self._conn is not None
        rewinds = self._rewinds
        with storage_errors("reading events"):
            found, cursor = await read_after(
                self._conn,
                self.cursor,
                limit=self.batch_size,
                types=self.types,
                providers=self.providers,
            )
        if rewinds != self._rewinds:  # rewound while reading: from the new place instead
            return []
        self.cursor = cursor
        return found

    async def batches(self, *, follow: bool = True) -> AsyncIterator[list[OutboxEvent]]:
        """Yield non-empty batches: catch up, then (``follow``) wait for NOTIFY or the poll.

        Without ``follow`` it stops once it has caught up. A lost connection is
        logged and re-opened; nothing is skipped meanwhile.
        """
        while True:
            before = self.cursor
            # A fresh wake-up before reading: a NOTIFY that lands while we read is kept.
            self._wake = anyio.Event()
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
            if self.cursor != before:  # scanned past events other readers want
                continue
            if not follow:
                return
            with anyio.move_on_after(self.poll_interval):
                await self._wake.wait()
