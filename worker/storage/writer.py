"""One page's transaction: read stored heads and versions, write what changed.

Every statement is set-based, so a page costs the same few statements whatever
its size. A campaign's current version is its open history row (``campaigns``
is a view of them), so a new version is one history row, and closing the row it
replaces. New versions and events go by ``worker.storage.fused``: two
statements of arrays bound one per column, each version sent once (a page of
many new campaigns sends their rows by binary COPY, ``copy_from``). One insert
per table (``worker.storage.bulk``, the path before issue 19, selected with
``fused_from`` above the page's size) stores the same rows and is kept as the
reference the fused path is checked against. A change is applied only when the
stored version is still the one it was computed from: a new campaign's row goes
in only if none is stored, a changed one's only if closing the open row of the
version it was computed from closed one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from worker.domain.campaign import CampaignKey, TargetKey
from worker.domain.diff import Change, miss
from worker.domain.events import ChangeEvent
from worker.domain.records import Rejection
from worker.errors import StorageError
from worker.ports import Written
from worker.storage.bulk import BulkInsert
from worker.storage.fused import COPY_FROM, apply_fused
from worker.storage.rejections import upsert_rejections
from worker.storage.rows import NEW_VERSION_COLUMNS, new_version_row
from worker.storage.sql import campaign_heads, close_history, update_by_campaign
from worker.storage.tables import NOTIFY_CHANNEL, campaign_events, campaign_history
from worker.storage.vanishing import count_misses, vanish

__all__ = ["FUSED_FROM", "PostgresPageWriter"]

# A page of n new versions goes fused if n >= FUSED_FROM, else one insert per table.
# Measured (issue 19, PostgreSQL 15, pages of 1 to 1000 versions): fused is 10 to 30 %
# faster at every size. A third path, binary COPY into temporary staging tables, tied
# with fused at 1000 and lost below (a transaction that touches an ``ON COMMIT DELETE
# ROWS`` table pays up to ~10 ms at commit); it was removed with migration 0010.
FUSED_FROM = 1

# Any conflict means the campaign is stored: a new campaign never overwrites one.
_FRESH = BulkInsert(
    campaign_history,
    NEW_VERSION_COLUMNS,
    "ON CONFLICT DO NOTHING RETURNING campaign_id, first_seen_at",
)
_HISTORY = BulkInsert(campaign_history, NEW_VERSION_COLUMNS)
_EVENTS = BulkInsert(
    campaign_events,
    [
        "event_id", "type", "provider", "account", "campaign_id", "version",
        "occurred_at", "detected_at", "data",
    ],
    "ON CONFLICT (event_id) DO NOTHING RETURNING id, type",
)  # fmt: skip
_COUNTERS = ("pages", "records", "changed", "events", "rejected", "deferred", "vanished")
_COUNT = (
    "UPDATE sync_runs SET "  # noqa: S608 (constants only)
    + ", ".join(f"{name} = {name} + ${i}" for i, name in enumerate(_COUNTERS, 2))
    + " WHERE id = $1"
)
_LISTED_AGAIN = update_by_campaign(
    "campaign_history",
    "missed_listings = 0",
    {"campaign_id": "text"},
    match="AND x.valid_to IS NULL",
)


class PostgresPageWriter:
    """The PageWriter for one open, fenced transaction."""

    def __init__(
        self,
        conn: AsyncConnection,
        target: TargetKey,
        run_id: int,
        secrets: Collection[str],
        *,
        newer_page_at: datetime | None = None,
        fused_from: int = FUSED_FROM,
        copy_from: int = COPY_FROM,
    ) -> None:
        self.newer_page_at = newer_page_at
        self._fused_from = fused_from
        self._copy_from = copy_from
        self._conn = conn
        self._target = target
        self._run_id = run_id
        self._secrets = secrets

    async def write(
        self,
        changes: Sequence[Change],
        rejections: Sequence[Rejection],
        *,
        records: int,
        pages: int = 1,
        listed_again: Sequence[str] = (),
        drift: Sequence[ChangeEvent] = (),
        deferred: int = 0,
    ) -> Written:
        """Persist a page's changes and rejections; see ``worker.ports.PageWriter.write``."""
        if changes and len(changes) >= self._fused_from:
            applied, kept, types = await self._write_fused(changes, drift)
        else:
            applied, kept, types = await self._write_per_table(changes, drift)
        inserted = types.total()
        reset = sorted(set(listed_again) - applied)
        if reset:
            await self._conn.execute(
                _LISTED_AGAIN,
                {
                    "campaign_id": reset,
                    "provider": self._target.provider,
                    "account": self._target.account,
                },
            )
        if rejections:
            seen_at = changes[0].observed_at if changes else await self._db_now()
            await upsert_rejections(
                self._conn, self._target, self._run_id, rejections, seen_at, self._secrets
            )
        rejected = sum(1 for r in rejections if r.kind.quarantines)
        await self._count(
            pages=pages,
            records=records,
            changed=len(kept),
            events=inserted,
            rejected=rejected,
            deferred=deferred,
        )
        return Written(
            changed=len(kept),
            events=inserted,
            dropped=len(changes) - len(kept),
            event_types=dict(types),
        )

    async def miss(
        self, campaign_ids: Sequence[str], *, listed_at: datetime, misses_to_vanish: int
    ) -> Written:
        """Count a complete listing without these campaigns; vanish those that reach the limit."""
        heads = (await campaign_heads(self._conn, self._target, campaign_ids)).heads
        misses = [
            miss(self._key(cid), head, listed_at=listed_at, misses_to_vanish=misses_to_vanish)
            for cid, head in heads.items()
            if head.vanished_at is None
        ]
        counting = [m for m in misses if m.event is None]
        if counting:
            await count_misses(self._conn, self._target, counting)
        vanishing = [m for m in misses if m.event is not None]
        vanished = await vanish(self._conn, self._target, vanishing, listed_at)
        events = [m.event for m in vanished if m.event is not None]
        types = await self._insert_events(events)
        await self._count(events=types.total(), vanished=len(vanished))
        return Written(
            changed=len(vanished),
            events=types.total(),
            dropped=len(vanishing) - len(vanished),
            event_types=dict(types),
        )

    async def _write_per_table(
        self, changes: Sequence[Change], drift: Sequence[ChangeEvent]
    ) -> tuple[set[str], list[Change], Counter[str]]:
        """The reference path: one insert of bound arrays per table."""
        first_seen: dict[str, datetime] = {}
        fresh = [ch for ch in changes if ch.previous is None]
        if fresh:
            rows = [new_version_row(ch, ch.observed_at) for ch in fresh]
            inserted = await _FRESH.run(self._conn, rows)
            first_seen.update((row["campaign_id"], row["first_seen_at"]) for row in inserted)
        changed = [ch for ch in changes if ch.previous is not None]
        if changed:
            observed_at = changed[0].observed_at  # one page is observed at one instant
            keys = [(ch.campaign.campaign_id, ch.previous_version) for ch in changed]
            first_seen.update(await close_history(self._conn, self._target, keys, observed_at))
            moved = [ch for ch in changed if ch.campaign.campaign_id in first_seen]
            await _HISTORY.run(
                self._conn,
                [new_version_row(ch, first_seen[ch.campaign.campaign_id]) for ch in moved],
            )
        kept = [ch for ch in changes if ch.campaign.campaign_id in first_seen]
        types = await self._insert_events([*(ev for ch in kept for ev in ch.events), *drift])
        return set(first_seen), kept, types

    async def _write_fused(
        self, changes: Sequence[Change], drift: Sequence[ChangeEvent]
    ) -> tuple[set[str], list[Change], Counter[str]]:
        """Two statements of bound arrays (``storage.fused``)."""
        driver = await _driver(self._conn)
        done = await apply_fused(driver, self._target, changes, drift, copy_from=self._copy_from)
        kept = [ch for ch in changes if ch.campaign.campaign_id in done.applied]
        return set(done.applied), kept, Counter(done.event_types)

    def _key(self, campaign_id: str) -> CampaignKey:
        return CampaignKey(
            provider=self._target.provider, account=self._target.account, campaign_id=campaign_id
        )

    async def _db_now(self) -> datetime:
        value: datetime = (await self._conn.execute(select(func.now()))).scalar_one()
        return value

    async def _insert_events(self, events: Sequence[ChangeEvent]) -> Counter[str]:
        """Insert what is not stored yet; the inserted ones, counted by type."""
        if not events:
            return Counter()
        rows = [
            {
                "event_id": ev.event_id,
                "type": ev.type,
                "provider": ev.key.provider,
                "account": ev.key.account,
                "campaign_id": ev.key.campaign_id,
                "version": ev.version,
                "occurred_at": ev.occurred_at,
                "detected_at": ev.detected_at,
                "data": dict(ev.data),
            }
            for ev in events
        ]
        inserted = await _EVENTS.run(self._conn, rows)
        if inserted:
            # NOTIFY only wakes listeners; the payload is the newest id, never the event.
            newest = max(int(row["id"]) for row in inserted)
            await self._conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, str(newest))))
        return Counter(str(row["type"]) for row in inserted)

    async def _count(self, **added: int) -> None:
        """Add to this run's counters, so a run that dies mid-cycle still shows its pages."""
        if unknown := set(added) - set(_COUNTERS):
            raise StorageError(f"no run counter named {sorted(unknown)} (a bug)")
        if any(added.values()):
            # A prepared statement through the driver: every page that writes runs it.
            values = [added.get(name, 0) for name in _COUNTERS]
            await (await _driver(self._conn)).execute(_COUNT, self._run_id, *values)


async def _driver(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under ``conn``, whose transaction has begun (``fence`` ran)."""
    driver = (await conn.get_raw_connection()).driver_connection
    if driver is None or not driver.is_in_transaction():
        # SQLAlchemy begins lazily: a first statement through the driver would autocommit.
        raise StorageError("a staged page write before its transaction began (a bug)")
    found: asyncpg.Connection = driver
    return found
