"""Runs whose worker died: closed as ``abandoned`` by the next worker to claim or to start.

A worker that is killed leaves its run ``running`` and its target's lease in
place until the lease expires. A claim of that target closes the run (see
``worker.storage.leases``); but when no replica is left to claim it (all were
stopped, or the target was removed from the configuration), only a worker that
starts later can. :func:`abandon_expired` is what every worker does as it
starts, for every target, whether it syncs it or not.

Until then the reporting views read such a run as abandoned already
(``sync_run_outcomes`` and ``target_freshness``, migration 0008), by the same
rule: a run is dead once its target's lease is no longer its own (owner and
fencing token) or has expired.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, false, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from worker.domain.campaign import TargetKey
from worker.domain.leases import ABANDONED
from worker.storage.engine import storage_errors
from worker.storage.tables import sync_runs, sync_targets

__all__ = ["ABANDONED", "abandon_expired", "abandon_runs"]


async def abandon_runs(
    conn: AsyncConnection, target: TargetKey, now: datetime, *where: ColumnElement[bool]
) -> int:
    """Close the target's ``running`` runs (those matching ``where`` too) as abandoned at
    ``now``, in the caller's transaction; returns how many. The caller holds the
    target's row lock, so no claim or page of that target runs meanwhile."""
    closed = await conn.execute(
        update(sync_runs)
        .where(
            sync_runs.c.provider == target.provider,
            sync_runs.c.account == target.account,
            sync_runs.c.status == "running",
            *where,
        )
        .values(status="abandoned", finished_at=now, error=ABANDONED)
    )
    return int(closed.rowcount)


async def abandon_expired(engine: AsyncEngine, now: datetime) -> list[TargetKey]:
    """Close as ``abandoned`` every run still ``running`` whose lease lapsed by ``now``.

    ``now`` is lease time (the clock leases are taken on). Each target's row is
    locked first, as a claim does; a target whose row another transaction holds
    (a page being written, a claim) is skipped rather than waited for: someone
    is at work on it. The target's lease itself is left for the next claim, which
    counts the takeover. A worker whose lease expired without being taken over
    can still finish its run; its real outcome then replaces ``abandoned``.
    Returns the targets whose runs were closed. Raises StorageError.
    """
    running = exists().where(
        sync_runs.c.provider == sync_targets.c.provider,
        sync_runs.c.account == sync_targets.c.account,
        sync_runs.c.status == "running",
    )
    closed: list[TargetKey] = []
    with storage_errors("closing the runs of expired leases"):
        async with engine.begin() as conn:
            targets = (
                await conn.execute(
                    select(sync_targets)
                    .where(running)
                    .order_by(sync_targets.c.provider, sync_targets.c.account)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in targets:
                target = TargetKey(provider=row.provider, account=row.account)
                lapsed: list[ColumnElement[bool]] = []
                expires = row.lease_expires_at
                if row.lease_owner is not None and expires is not None and expires > now:
                    # The lease is live: only a run claimed under another one is dead.
                    own = and_(
                        sync_runs.c.owner == row.lease_owner,
                        sync_runs.c.lease_token == row.lease_token,
                    )
                    lapsed.append(~func.coalesce(own, false()))
                if await abandon_runs(conn, target, now, *lapsed):
                    closed.append(target)
    return closed
