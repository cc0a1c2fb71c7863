"""PostgreSQL implementation of the CampaignStore port.

One page is one transaction: an advisory lock on the target serializes replicas,
one query reads the stored versions, and the writes (current rows, history,
events, rejections, ``pg_notify``) commit together or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from worker.domain.campaign import (
    TargetKey,
    canonical_json,
)
from worker.domain.diff import Change, StoredState
from worker.domain.records import Rejection, RejectionKind, redact
from worker.ports import RunSummary
from worker.storage.engine import storage_errors
from worker.storage.rows import campaign_from_row, campaign_row
from worker.storage.tables import (
    NOTIFY_CHANNEL,
    campaign_events,
    campaign_history,
    campaigns,
    sync_errors,
    sync_runs,
)

__all__ = ["PostgresPageWriter", "PostgresStore"]


def target_lock_key(target: TargetKey) -> int:
    """A stable signed 64-bit advisory-lock key for one target."""
    digest = hashlib.sha256(f"campaign-sync/{target}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresStore:
    """Campaign state, history, outbox and run records in PostgreSQL.

    Args:
        engine: an asyncpg engine (see ``worker.storage.engine``).
        secrets: known secret values, blanked out of anything written to ``sync_errors``.
    """

    def __init__(self, engine: AsyncEngine, *, secrets: frozenset[str] = frozenset()) -> None:
        self.engine = engine
        self._secrets = secrets

    async def start_run(self, target: TargetKey, started_at: datetime) -> int:
        """Insert a ``running`` row into ``sync_runs``; returns its id."""
        stmt = (
            insert(sync_runs)
            .values(
                provider=target.provider,
                account=target.account,
                started_at=started_at,
                status="running",
            )
            .returning(sync_runs.c.id)
        )
        with storage_errors("recording the sync run"):
            async with self.engine.begin() as conn:
                return int((await conn.execute(stmt)).scalar_one())

    @asynccontextmanager
    async def page(self, target: TargetKey, run_id: int) -> AsyncIterator[PostgresPageWriter]:
        """One page's transaction, holding the target's advisory lock until commit."""
        with storage_errors(f"writing a page of {target}"):
            async with self.engine.begin() as conn:
                await conn.execute(select(func.pg_advisory_xact_lock(target_lock_key(target))))
                yield PostgresPageWriter(conn, target, run_id, self._secrets)

    async def finish_run(self, run_id: int, finished_at: datetime, summary: RunSummary) -> None:
        """Close the run row; a failed run also leaves a ``page`` row in ``sync_errors``."""
        values = {
            "finished_at": finished_at,
            "status": summary.status,
            "pages": summary.pages,
            "records": summary.records,
            "changed": summary.changed,
            "events": summary.events,
            "rejected": summary.rejected,
            "error": redact(summary.error, self._secrets),
        }
        with storage_errors("recording the sync run"):
            async with self.engine.begin() as conn:
                row = (
                    await conn.execute(
                        update(sync_runs)
                        .where(sync_runs.c.id == run_id)
                        .values(**values)
                        .returning(sync_runs.c.provider, sync_runs.c.account)
                    )
                ).one()
                if summary.error:
                    target = TargetKey(provider=row.provider, account=row.account)
                    failure = Rejection(kind=RejectionKind.PAGE, reason=summary.error)
                    await _upsert_rejections(
                        conn, target, run_id, [failure], finished_at, self._secrets
                    )


class PostgresPageWriter:
    """The PageWriter for one open transaction."""

    def __init__(
        self, conn: AsyncConnection, target: TargetKey, run_id: int, secrets: frozenset[str]
    ) -> None:
        self._conn = conn
        self._target = target
        self._run_id = run_id
        self._secrets = secrets

    async def load(self, campaign_ids: Sequence[str]) -> Mapping[str, StoredState]:
        """Current stored versions of ``campaign_ids`` (one query)."""
        if not campaign_ids:
            return {}
        rows = await self._conn.execute(
            select(campaigns).where(
                campaigns.c.provider == self._target.provider,
                campaigns.c.account == self._target.account,
                campaigns.c.campaign_id.in_(list(campaign_ids)),
            )
        )
        return {
            row.campaign_id: StoredState(
                campaign=campaign_from_row(row), version=row.version, content_hash=row.content_hash
            )
            for row in rows
        }

    async def write(self, changes: Sequence[Change], rejections: Sequence[Rejection]) -> int:
        """Persist a page's changes and rejections; returns how many events were new."""
        inserted = 0
        if changes:
            await self._write_current(changes)
            await self._write_history(changes)
            inserted = await self._write_events(changes)
        if rejections:
            now = changes[0].observed_at if changes else await self._db_now()
            await _upsert_rejections(
                self._conn, self._target, self._run_id, rejections, now, self._secrets
            )
        return inserted

    async def _db_now(self) -> datetime:
        value: datetime = (await self._conn.execute(select(func.now()))).scalar_one()
        return value

    async def _write_current(self, changes: Sequence[Change]) -> None:
        rows = [
            {
                **campaign_row(ch),
                "first_seen_at": ch.observed_at,
                "last_changed_at": ch.observed_at,
            }
            for ch in changes
        ]
        stmt = pg_insert(campaigns)
        refreshed = {
            c.name: stmt.excluded[c.name]
            for c in campaigns.columns
            if c.name not in {"provider", "account", "campaign_id", "first_seen_at"}
        }
        # Only move forward: a stale writer can never overwrite a newer version.
        await self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["provider", "account", "campaign_id"],
                set_=refreshed,
                where=campaigns.c.version < stmt.excluded.version,
            ),
            rows,
        )

    async def _write_history(self, changes: Sequence[Change]) -> None:
        closing = [ch for ch in changes if ch.previous is not None]
        if closing:
            keys = [
                (self._target.provider, self._target.account, ch.campaign.campaign_id)
                for ch in closing
            ]
            # All versions of one page are observed at the same instant.
            await self._conn.execute(
                update(campaign_history)
                .where(
                    and_(
                        tuple_(
                            campaign_history.c.provider,
                            campaign_history.c.account,
                            campaign_history.c.campaign_id,
                        ).in_(keys),
                        campaign_history.c.valid_to.is_(None),
                    )
                )
                .values(valid_to=closing[0].observed_at)
            )
        rows = [
            {**campaign_row(ch), "valid_from": ch.observed_at, "valid_to": None} for ch in changes
        ]
        await self._conn.execute(
            pg_insert(campaign_history).on_conflict_do_nothing(
                index_elements=["provider", "account", "campaign_id", "version"]
            ),
            rows,
        )

    async def _write_events(self, changes: Sequence[Change]) -> int:
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
            for ch in changes
            for ev in ch.events
        ]
        if not rows:
            return 0
        result = await self._conn.execute(
            pg_insert(campaign_events)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(campaign_events.c.id),
            rows,
        )
        ids = [int(i) for i in result.scalars().all()]
        if ids:
            # NOTIFY only wakes listeners; the payload is the newest id, never the event.
            await self._conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, str(max(ids)))))
        return len(ids)


async def _upsert_rejections(
    conn: AsyncConnection,
    target: TargetKey,
    run_id: int,
    rejections: Sequence[Rejection],
    seen_at: datetime,
    secrets: frozenset[str],
) -> None:
    rows: dict[str, dict[str, Any]] = {}
    for rej in rejections:
        raw = redact(rej.raw, secrets)
        reason = redact(rej.reason, secrets)
        row = {
            "fingerprint": _fingerprint(target, rej, raw, reason),
            "provider": target.provider,
            "account": target.account,
            "kind": rej.kind.value,
            "campaign_id": rej.campaign_id,
            "field": rej.field,
            "reason": reason,
            "raw": raw,
            "detail": redact(dict(rej.detail), secrets),
            "first_seen_at": seen_at,
            "last_seen_at": seen_at,
            "occurrences": 1,
            "last_run_id": run_id,
        }
        seen = rows.get(row["fingerprint"])
        if seen is not None:  # one statement may not touch a row twice: count it here
            row["occurrences"] = seen["occurrences"] + 1
        rows[row["fingerprint"]] = row
    stmt = pg_insert(sync_errors)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["fingerprint"],
            set_={
                "last_seen_at": stmt.excluded.last_seen_at,
                "last_run_id": stmt.excluded.last_run_id,
                "occurrences": sync_errors.c.occurrences + stmt.excluded.occurrences,
            },
        ),
        list(rows.values()),
    )


def _fingerprint(target: TargetKey, rej: Rejection, raw: Any, reason: str) -> str:
    if rej.kind is RejectionKind.UNKNOWN_STATUS:
        # Noted once per value and target, whichever campaigns carry it.
        basis: Any = [str(target), rej.kind.value, rej.detail.get("status_raw")]
    else:
        basis = [str(target), rej.kind.value, rej.campaign_id, rej.field, reason, raw]
    return hashlib.sha256(canonical_json(basis).encode()).hexdigest()
