"""Leases per target and the run record of each cycle, in memory.

The same rules as ``worker.storage.leases`` (read it for the why): a lease has an
owner, an expiry judged by the lease clock passed in, and a fencing token that
grows on every claim. Every page transaction renews the lease under its token
(:func:`fence`) while holding the target's lock, so a writer whose lease was
taken over is refused before it writes anything. A run whose worker stopped
renewing is closed as ``abandoned`` by the next claim of its target, or by
:meth:`MemoryLeases.abandon_expired`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta

from worker.domain.campaign import TargetKey
from worker.domain.leases import ABANDONED, slot_end
from worker.domain.records import Rejection, RejectionKind
from worker.domain.scrub import redact
from worker.errors import LeaseLost
from worker.memory.rejections import keep_rejections_in
from worker.memory.tables import MemoryState, RunRow, TargetRow, Transaction
from worker.ports import Claim, Clock, Lease, LeaseHeld, NotDue, RunSummary

__all__ = ["MemoryLeases", "abandon_runs", "fence"]


def _watermark(row: TargetRow, observed_at: datetime | None) -> datetime | None:
    """The target's newest observation moved forward to ``observed_at`` (never back)."""
    if observed_at is None or row.last_observed_at is None:
        return observed_at or row.last_observed_at
    return max(row.last_observed_at, observed_at)


def fence(
    tx: Transaction,
    state: MemoryState,
    lease: Lease,
    now: datetime,
    observed_at: datetime | None = None,
) -> datetime | None:
    """Renew ``lease`` inside ``tx``, or raise LeaseLost; returns the newest observation.

    A returned value later than ``observed_at`` means a page fetched after this
    one has already been written, so this one is stale.
    """
    row = tx.get(state.targets, lease.target)
    if row is None or (row.lease_token, row.lease_owner) != (lease.token, lease.owner):
        raise LeaseLost(
            f"{lease.target}: the lease (token {lease.token}) was taken over by another worker; "
            "this cycle wrote nothing more"
        )
    renewed = replace(
        row,
        lease_expires_at=now + timedelta(seconds=lease.ttl),
        last_observed_at=_watermark(row, observed_at),
    )
    tx.put(state.targets, lease.target, renewed)
    return renewed.last_observed_at


def abandon_runs(
    tx: Transaction,
    state: MemoryState,
    target: TargetKey,
    now: datetime,
    *,
    live: tuple[str, int] | None = None,
) -> int:
    """Close the target's ``running`` runs as abandoned at ``now``; returns how many.

    ``live`` is the (owner, fencing token) of a lease still live: the run claimed
    under it is left running.
    """
    running = [
        run
        for _, run in tx.scan(state.runs)
        if run.target == target
        and run.status == "running"
        and (live is None or (run.owner, run.lease_token) != live)
    ]
    for run in running:
        tx.put(
            state.runs, run.id, replace(run, status="abandoned", finished_at=now, error=ABANDONED)
        )
    return len(running)


class MemoryLeases:
    """The LeaseStore port in memory."""

    def __init__(
        self, *, secrets: Collection[str] = frozenset(), state: MemoryState | None = None
    ) -> None:
        self.state = state if state is not None else MemoryState()
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
        state = self.state
        async with state.transaction(target) as tx:
            row = tx.get(state.targets, target) or TargetRow()
            tx.put(state.targets, target, row)  # the target is known from now on
            # Lease time is read once the target is ours (see worker.storage.leases).
            now = lease_clock.now()
            expires = row.lease_expires_at
            own = row.lease_owner == owner
            if row.lease_owner is not None and not own and expires and expires > now:
                return LeaseHeld(owner=row.lease_owner, expires_at=expires)
            took_over = None if own else row.lease_owner
            if row.lease_owner is not None:  # its holder stopped renewing: take it back
                abandon_runs(tx, state, target, now)
                taken = row.takeovers + (0 if own else 1)
                tx.put(
                    state.targets,
                    target,
                    replace(row, lease_owner=None, lease_expires_at=None, takeovers=taken),
                )
            if not force and row.next_due_at is not None and row.next_due_at > now:
                return NotDue(due_at=row.next_due_at)
            token = row.lease_token + 1
            started_at = clock.now()
            abandon_runs(tx, state, target, now)
            current = tx.get(state.targets, target) or row
            tx.put(
                state.targets,
                target,
                replace(
                    current,
                    lease_owner=owner,
                    lease_token=token,
                    lease_expires_at=now + timedelta(seconds=ttl),
                    interval_seconds=interval,
                    next_due_at=slot_end(now, interval),
                    last_started_at=started_at,
                ),
            )
            run_id = state.next_id("runs")
            run = RunRow(
                id=run_id,
                target=target,
                started_at=started_at,
                status="running",
                owner=owner,
                lease_token=token,
            )
            tx.put(state.runs, run_id, run)
        return Lease(
            target=target,
            owner=owner,
            token=token,
            run_id=run_id,
            ttl=ttl,
            took_over_from=took_over,
            last_full_refresh_at=row.last_full_refresh_at,
        )

    async def renew(self, lease: Lease, now: datetime) -> bool:
        """Extend the lease by its ttl; False when another worker holds it now."""
        try:
            async with self.state.transaction(lease.target) as tx:
                fence(tx, self.state, lease, now)
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
        """Release the lease and close the run (see ``worker.ports.LeaseStore.finish``)."""
        state, target = self.state, lease.target
        async with state.transaction(target) as tx:
            succeeded = summary.status == "succeeded"
            row = tx.get(state.targets, target)
            released = row is not None and (row.lease_token, row.lease_owner) == (
                lease.token,
                lease.owner,
            )
            if row is not None and released:
                tx.put(
                    state.targets,
                    target,
                    replace(
                        row,
                        lease_owner=None,
                        lease_expires_at=None,
                        last_finished_at=finished_at,
                        last_status=summary.status,
                        last_error=redact(summary.error, self._secrets),
                        last_run_id=lease.run_id,
                        last_success_at=finished_at if succeeded else row.last_success_at,
                        last_observed_at=_watermark(row, observed_at),
                        last_full_refresh_at=full_refresh_at
                        if succeeded and full_refresh_at is not None
                        else row.last_full_refresh_at,
                    ),
                )
            if not released and summary.status in ("succeeded", "partial"):
                summary = replace(
                    summary,
                    status="superseded",
                    error=f"{target}: the lease was taken over by another worker",
                )
            error = redact(summary.error, self._secrets)
            run = tx.get(state.runs, lease.run_id)
            if run is not None and run.status in ("running", "abandoned"):
                tx.put(
                    state.runs,
                    run.id,
                    replace(
                        run,
                        finished_at=finished_at,
                        status=summary.status,
                        pages=summary.pages,
                        records=summary.records,
                        changed=summary.changed,
                        events=summary.events,
                        rejected=summary.rejected,
                        vanished=summary.vanished,
                        error=error,
                    ),
                )
            if summary.status == "failed" and error:
                failure = Rejection(kind=RejectionKind.PAGE, reason=error)
                keep_rejections_in(
                    tx, state, target, lease.run_id, [failure], finished_at, self._secrets
                )
        return summary

    async def abandon_expired(self, now: datetime) -> list[TargetKey]:
        """Close as ``abandoned`` every run still ``running`` whose lease lapsed by ``now``.

        As ``worker.storage.lapsed.abandon_expired``: a target whose transaction
        is open (a page being written, a claim) is skipped; under a live lease
        only runs claimed under another lease are closed. Returns the targets
        whose runs were closed, in (provider, account) order.
        """
        state = self.state
        running = {run.target for run in state.runs.rows.values() if run.status == "running"}
        closed: list[TargetKey] = []
        for target in sorted(running, key=lambda t: (t.provider, t.account)):
            if state.locked(target):
                continue
            async with state.transaction(target) as tx:
                row = tx.get(state.targets, target) or TargetRow()
                owner, expires = row.lease_owner, row.lease_expires_at
                live = None
                if owner is not None and expires is not None and expires > now:
                    live = (owner, row.lease_token)
                if abandon_runs(tx, state, target, now, live=live):
                    closed.append(target)
        return closed
