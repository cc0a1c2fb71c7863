"""Leases per target in ``sync_targets``, and the ``sync_runs`` row of each cycle.

A lease gives one worker the right to write one target. It has an owner, an
expiry and a fencing token that grows on every claim. Every page transaction
starts by renewing the lease under its token (``fence``), which takes the
target's row lock: a claim by another worker waits for that page to commit and
then sees the renewed expiry, and a writer whose token moved on is refused
before it writes anything. Safety rests on the token alone; clocks only decide
when an abandoned lease may be taken over.

The same statement keeps the target's newest observation: the fetch time of the
newest page written. A page fetched before it is stale (the provider's state it
shows was already superseded by what a later page showed) and is not applied.

A run whose worker died stays ``running`` until a worker closes it as
``abandoned``: the next one to claim its target, or to start
(``worker.storage.lapsed``), whichever comes first. Meanwhile the
reporting views read it as abandoned once its lease has expired (migration 0008).

Schedule: a cycle that claims a target at ``now`` sets ``next_due_at`` to the
end of the interval slot ``now`` falls in (slots are whole multiples of the
interval since the Unix epoch), so each (target, interval) is synced once,
whichever replica ticks first.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from worker.domain.campaign import TargetKey
from worker.domain.leases import slot_end
from worker.domain.records import Rejection, RejectionKind
from worker.domain.scrub import redact
from worker.errors import LeaseLost
from worker.ports import Claim, Clock, Lease, LeaseHeld, NotDue, RunSummary
from worker.storage.engine import storage_errors
from worker.storage.lapsed import abandon_runs
from worker.storage.rejections import upsert_rejections
from worker.storage.tables import sync_runs, sync_targets

__all__ = ["PostgresLeases", "fence", "slot_end"]


def _this_target(target: TargetKey) -> ColumnElement[bool]:
    return and_(
        sync_targets.c.provider == target.provider, sync_targets.c.account == target.account
    )


def _watermark(observed_at: datetime | None) -> dict[str, object]:
    """Move the target's newest observation forward to ``observed_at`` (never back)."""
    if observed_at is None:
        return {}
    return {"last_observed_at": func.greatest(sync_targets.c.last_observed_at, observed_at)}


async def fence(
    conn: AsyncConnection, lease: Lease, now: datetime, observed_at: datetime | None = None
) -> datetime | None:
    """Renew ``lease`` inside the caller's transaction, or raise LeaseLost.

    Holds the target's row lock until that transaction ends. With ``observed_at``
    (when the page being written was fetched), it also advances the target's
    newest observation and returns it: a value later than ``observed_at`` means a
    page fetched after this one has already been written, so this one is stale.
    """
    values: dict[str, object] = {"lease_expires_at": now + timedelta(seconds=lease.ttl)}
    if observed_at is not None:
        values |= _watermark(observed_at)
    renewed = (
        await conn.execute(
            update(sync_targets)
            .where(
                _this_target(lease.target),
                sync_targets.c.lease_token == lease.token,
                sync_targets.c.lease_owner == lease.owner,
            )
            .values(values)
            .returning(sync_targets.c.last_observed_at)
        )
    ).first()
    if renewed is None:
        raise LeaseLost(
            f"{lease.target}: the lease (token {lease.token}) was taken over by another worker; "
            "this cycle wrote nothing more"
        )
    newest: datetime | None = renewed.last_observed_at
    return newest


class PostgresLeases:
    """The LeaseStore port on PostgreSQL."""

    def __init__(self, engine: AsyncEngine, *, secrets: Collection[str] = frozenset()) -> None:
        self.engine = engine
        self._secrets = secrets

    async def claim(
        self,
        target: TargetKey,
        *,
        owner: str,
        lease_clock: Clock,
        ttl: float,
        interval: float,
        clock: Clock,
        force: bool = False,
    ) -> Claim:
        """Take the lease and open a run (see ``worker.ports.LeaseStore.claim``)."""
        with storage_errors(f"claiming the lease of {target}"):
            async with self.engine.begin() as conn:
                await conn.execute(
                    pg_insert(sync_targets)
                    .values(provider=target.provider, account=target.account)
                    .on_conflict_do_nothing()
                )
                row = (
                    await conn.execute(
                        select(sync_targets).where(_this_target(target)).with_for_update()
                    )
                ).one()
                # Lease time is read once the row is ours: a claim that waited for another
                # worker's page to commit takes effect, and schedules, from now on.
                now = lease_clock.now()
                expires = row.lease_expires_at
                # This worker's own lease is one a cycle of its could not release (the
                # database was away as it ended): it runs one cycle per target at a time,
                # so it takes the lease back at once instead of waiting out the ttl.
                own = row.lease_owner == owner
                if row.lease_owner is not None and not own and expires and expires > now:
                    return LeaseHeld(owner=row.lease_owner, expires_at=expires)
                took_over = None if own else row.lease_owner
                if row.lease_owner is not None:  # its holder stopped renewing: take it back
                    await abandon_runs(conn, target, now)
                    await conn.execute(
                        update(sync_targets)
                        .where(_this_target(target))
                        .values(
                            lease_owner=None,
                            lease_expires_at=None,
                            takeovers=sync_targets.c.takeovers + (0 if own else 1),
                        )
                    )
                if not force and row.next_due_at is not None and row.next_due_at > now:
                    return NotDue(due_at=row.next_due_at)
                token = row.lease_token + 1
                # Read after the row lock: a run never starts before the one it follows ended.
                started_at = clock.now()
                await abandon_runs(conn, target, now)
                await conn.execute(
                    update(sync_targets)
                    .where(_this_target(target))
                    .values(
                        lease_owner=owner,
                        lease_token=token,
                        lease_expires_at=now + timedelta(seconds=ttl),
                        interval_seconds=interval,
                        next_due_at=slot_end(now, interval),
                        last_started_at=started_at,
                    )
                )
                run_id = (
                    await conn.execute(
                        insert(sync_runs)
                        .values(
                            provider=target.provider,
                            account=target.account,
                            started_at=started_at,
                            status="running",
                            owner=owner,
                            lease_token=token,
                        )
                        .returning(sync_runs.c.id)
                    )
                ).scalar_one()
        return Lease(
            target=target,
            owner=owner,
            token=token,
            run_id=int(run_id),
            ttl=ttl,
            took_over_from=took_over,
            last_full_refresh_at=row.last_full_refresh_at,
        )

    async def renew(self, lease: Lease, now: datetime) -> bool:
        """Extend the lease by its ttl; False when another worker holds it now."""
        with storage_errors(f"renewing the lease of {lease.target}"):
            async with self.engine.begin() as conn:
                try:
                    await fence(conn, lease, now)
                except LeaseLost:
                    return False
        return True

    async def finish(
        self,
        lease: Lease,
        finished_at: datetime,
        summary: RunSummary,
        *,
        observed_at: datetime | None = None,
        full_refresh_at: datetime | None = None,
    ) -> RunSummary:
        """Release the lease and close the run row; a failed run also notes its error.

        ``observed_at`` (when the cycle's newest page was fetched) advances the
        target's newest observation, as a page transaction does: pages that
        stored nothing count too, so an older fetch is stale after them.

        A cycle whose lease was taken over while it ran is recorded as
        ``superseded``, whatever it found: pages with nothing to store open no
        fenced transaction, so this is where such a cycle learns it. Returns the
        summary as recorded.
        """
        target = lease.target
        with storage_errors(f"recording the run of {target}"):
            async with self.engine.begin() as conn:
                succeeded = summary.status == "succeeded"
                released = await conn.execute(
                    update(sync_targets)
                    .where(
                        _this_target(target),
                        sync_targets.c.lease_token == lease.token,
                        sync_targets.c.lease_owner == lease.owner,
                    )
                    .values(
                        lease_owner=None,
                        lease_expires_at=None,
                        last_finished_at=finished_at,
                        last_status=summary.status,
                        last_error=redact(summary.error, self._secrets),
                        last_run_id=lease.run_id,
                        **({"last_success_at": finished_at} if succeeded else {}),
                        **_watermark(observed_at),
                        **(
                            {"last_full_refresh_at": full_refresh_at}
                            if succeeded and full_refresh_at is not None
                            else {}
                        ),
                    )
                )
                if released.rowcount == 0 and summary.status in ("succeeded", "partial"):
                    summary = replace(
                        summary,
                        status="superseded",
                        error=f"{target}: the lease was taken over by another worker",
                    )
                error = redact(summary.error, self._secrets)
                await conn.execute(
                    update(sync_runs)
                    .where(
                        sync_runs.c.id == lease.run_id,
                        sync_runs.c.status.in_(("running", "abandoned")),
                    )
                    .values(
                        finished_at=finished_at,
                        status=summary.status,
                        pages=summary.pages,
                        records=summary.records,
                        changed=summary.changed,
                        events=summary.events,
                        rejected=summary.rejected,
                        vanished=summary.vanished,
                        error=error,
                    )
                )
                if summary.status == "failed" and error:
                    failure = Rejection(kind=RejectionKind.PAGE, reason=error)
                    await upsert_rejections(
                        conn, target, lease.run_id, [failure], finished_at, self._secrets
                    )
        return summary
