"""The conformance suite's view of a PostgreSQL store: its tables, read with SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conformance.inspector import CAMPAIGN, ERROR, EVENT, HISTORY, RUN, TARGET, Row
from worker.domain.campaign import TargetKey
from worker.storage.integrity import integrity_violations
from worker.storage.tables import (
    campaign_events,
    campaign_history,
    sync_errors,
    sync_runs,
    sync_targets,
)
from worker.storage.views import campaigns

__all__ = ["PostgresInspector"]


class PostgresInspector:
    """Reads one database's committed tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def _rows(
        self, table: Table, columns: Sequence[str], *where: Any, order: str = "id"
    ) -> list[Row]:
        query = select(*(table.c[name] for name in columns)).where(*where)
        async with self.engine.connect() as conn:
            result = await conn.execute(query.order_by(table.c[order]))
            return [dict(row._mapping) for row in result]

    async def campaign(self, target: TargetKey, campaign_id: str) -> Row | None:
        c = campaigns
        rows = await self._rows(
            c, CAMPAIGN, *_of(c, target), c.c.campaign_id == campaign_id, order="campaign_id"
        )
        return rows[0] if rows else None

    async def history(self, target: TargetKey, campaign_id: str) -> list[Row]:
        h = campaign_history
        return await self._rows(
            h, HISTORY, *_of(h, target), h.c.campaign_id == campaign_id, order="version"
        )

    async def events(self, campaign_id: str | None = None, type: str | None = None) -> list[Row]:
        e = campaign_events
        where = [] if campaign_id is None else [e.c.campaign_id == campaign_id]
        where += [] if type is None else [e.c.type == type]
        rows = await self._rows(e, EVENT, *where)
        return [{**row, "event_id": str(row["event_id"])} for row in rows]

    async def errors(self) -> list[Row]:
        return await self._rows(sync_errors, ERROR)

    async def runs(self, target: TargetKey) -> list[Row]:
        return await self._rows(sync_runs, RUN, *_of(sync_runs, target))

    async def target(self, target: TargetKey) -> Row | None:
        rows = await self._rows(sync_targets, TARGET, *_of(sync_targets, target), order="provider")
        return rows[0] if rows else None

    async def integrity(self) -> list[str]:
        return await integrity_violations(self.engine)


def _of(table: Table, target: TargetKey) -> list[Any]:
    return [table.c.provider == target.provider, table.c.account == target.account]
