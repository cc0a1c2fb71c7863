"""PostgreSQL implementation of the LeaseStore and CampaignStore ports.

A page's stored heads and versions are read first, outside its transaction
(the lease keeps other writers away; the writes are guarded by version anyway).
Then one transaction renews the target's lease under its fencing token (see
``leases``) and commits history rows (the open one is the current state),
events, rejections, run counters and ``pg_notify`` together or not at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from worker.domain.campaign import TargetKey
from worker.domain.diff import StoredState
from worker.domain.drift import OVERFLOW
from worker.domain.events import EventKind
from worker.ports import Lease, PageHeads
from worker.storage.engine import storage_errors
from worker.storage.leases import PostgresLeases, fence
from worker.storage.sql import campaign_heads, campaign_states
from worker.storage.tables import campaign_events
from worker.storage.views import campaigns
from worker.storage.writer import PostgresPageWriter

__all__ = ["PostgresPageWriter", "PostgresStore"]


class PostgresStore(PostgresLeases):
    """Campaign state, history, outbox, leases and run records in PostgreSQL.

    Args:
        engine: an asyncpg engine (see ``worker.storage.engine``).
        secrets: known secret values, blanked out of anything written to ``sync_errors``.
    """

    @asynccontextmanager
    async def page(
        self, lease: Lease, now: datetime, *, observed_at: datetime | None = None
    ) -> AsyncIterator[PostgresPageWriter]:
        """One page's transaction, fenced by ``lease`` (raises LeaseLost before any write)."""
        with storage_errors(f"writing a page of {lease.target}"):
            async with self.engine.begin() as conn:
                newest = await fence(conn, lease, now, observed_at)
                stale_since = (
                    newest if observed_at is not None and newest and newest > observed_at else None
                )
                yield PostgresPageWriter(
                    conn, lease.target, lease.run_id, self._secrets, newer_page_at=stale_since
                )

    async def heads(
        self,
        target: TargetKey,
        campaign_ids: Sequence[str],
        *,
        list_hashes: Sequence[str | None] | None = None,
    ) -> PageHeads:
        """Stored heads of these campaigns (one query); see ``CampaignReader.heads``."""
        with storage_errors(f"reading the campaigns of {target}"):
            async with self.engine.connect() as conn:
                return await campaign_heads(conn, target, campaign_ids, list_hashes)

    async def load(
        self, target: TargetKey, campaign_ids: Sequence[str]
    ) -> Mapping[str, StoredState]:
        """Stored current versions of these campaigns in full (one query)."""
        with storage_errors(f"reading the campaigns of {target}"):
            async with self.engine.connect() as conn:
                return await campaign_states(conn, target, campaign_ids)

    async def listed_ids(self, target: TargetKey, *, after: str, limit: int) -> Sequence[str]:
        """Ids of stored, not vanished campaigns of ``target`` after ``after`` (keyset order),
        as one array (the driver decodes it whole; a row per id costs an object each)."""
        batch = (
            select(campaigns.c.campaign_id.label("id"))
            .where(
                campaigns.c.provider == target.provider,
                campaigns.c.account == target.account,
                campaigns.c.vanished_at.is_(None),
                campaigns.c.campaign_id > after,
            )
            .order_by(campaigns.c.campaign_id)
            .limit(limit)
            .subquery()
        )
        with storage_errors(f"reading the campaigns of {target}"):
            async with self.engine.connect() as conn:
                ids = await conn.scalar(
                    select(func.array_agg(aggregate_order_by(batch.c.id, batch.c.id)))
                )
        return list(ids or ())

    async def count_live(self, target: TargetKey) -> int:
        """How many of the target's stored campaigns are not vanished."""
        query = select(func.count()).where(
            campaigns.c.provider == target.provider,
            campaigns.c.account == target.account,
            campaigns.c.vanished_at.is_(None),
        )
        with storage_errors(f"counting the campaigns of {target}"):
            async with self.engine.connect() as conn:
                return int(await conn.scalar(query) or 0)

    async def list_digests(
        self, target: TargetKey, *, after: str, limit: int
    ) -> Sequence[tuple[str, str]]:
        """(id, digest) of campaigns ``heads`` would find unchanged (keyset order); see
        ``CampaignReader.list_digests``. One row of two arrays: the driver decodes
        them whole, where a row per campaign would cost a Python object each."""
        # A derived status is mixed in: worker.domain.diff.clocked_list_hash, in SQL.
        clocked = func.encode(
            func.sha256(func.convert_to(campaigns.c.list_hash + "/" + campaigns.c.status, "UTF8")),
            "hex",
        )
        batch = (
            select(
                campaigns.c.campaign_id.label("id"),
                func.substr(
                    case((campaigns.c.status_derived, clocked), else_=campaigns.c.list_hash),
                    1,
                    16,
                ).label("digest"),
            )
            .where(
                campaigns.c.provider == target.provider,
                campaigns.c.account == target.account,
                campaigns.c.vanished_at.is_(None),
                campaigns.c.missed_listings == 0,
                campaigns.c.list_hash.is_not(None),
                campaigns.c.campaign_id > after,
            )
            .order_by(campaigns.c.campaign_id)
            .limit(limit)
            .subquery()
        )
        with storage_errors(f"reading the campaigns of {target}"):
            async with self.engine.connect() as conn:
                ids, digests = (
                    await conn.execute(
                        select(
                            func.array_agg(aggregate_order_by(batch.c.id, batch.c.id)),
                            func.array_agg(aggregate_order_by(batch.c.digest, batch.c.id)),
                        )
                    )
                ).one()
        return list(zip(ids, digests, strict=True)) if ids else []

    async def known_drift(self, target: TargetKey) -> Mapping[str, frozenset[str]]:
        """Schema-drift values already in the outbox for ``target``, by field."""
        with storage_errors(f"reading the schema drift of {target}"):
            async with self.engine.connect() as conn:
                rows = await conn.execute(
                    select(
                        campaign_events.c.data["field"].astext,
                        func.coalesce(campaign_events.c.data["value"].astext, OVERFLOW),
                    ).where(
                        campaign_events.c.type == EventKind.SCHEMA_DRIFT.type,
                        campaign_events.c.provider == target.provider,
                        campaign_events.c.account == target.account,
                    )
                )
                found: dict[str, set[str]] = {}
                for field, value in rows:
                    found.setdefault(field, set()).add(value)
        return {field: frozenset(values) for field, values in found.items()}
