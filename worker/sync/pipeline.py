"""One sync cycle of one target: claim its lease, list, plan and store in batches,
vanish what a complete listing missed, record the run.

What the pages leave to store is written in batches (``worker.sync.batches``: up to
``limits.write_chunk`` records or ``limits.batch_wait`` seconds), each a transaction
fenced by the lease (``worker.sync.page``), on a write-behind task while the listing
goes on (``worker.sync.write_behind``). A record whose list item the target's
digest table knows costs one hash (``worker.sync.remembering``; docs/architecture.md).
A record that cannot be stored or read is quarantined and its page goes on; a failed
detail keeps the stored state (the cycle is ``partial``); a failed page, a listing past
``limits.max_pages`` or a cycle past ``limits.cycle_deadline`` fails this target's cycle
only. Nothing vanishes after a failed or partial cycle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from datetime import datetime

import anyio

from worker.clock import SystemClock
from worker.domain.campaign import TargetKey
from worker.domain.timestamps import to_iso8601
from worker.errors import LeaseLost, ProviderError, ProviderRejected, StorageError
from worker.observability import loggers, metrics
from worker.observability.redaction import redact
from worker.ports import Clock, Lease, LeaseHeld, NotDue, Provider, RawRecord, RunSummary, Store
from worker.sync.batches import PageBatches
from worker.sync.cycle_report import CycleTotals, report_cycle
from worker.sync.drift_reports import DriftReports
from worker.sync.leasing import under_lease
from worker.sync.listing import Listing
from worker.sync.page import PageStep
from worker.sync.policy import CycleLimits, CyclePolicy
from worker.sync.prefetch import consume_prefetched
from worker.sync.remembering import DigestTables
from worker.sync.write_behind import write_behind

__all__ = ["CycleLimits", "CyclePolicy", "SyncPipeline"]

log = logging.getLogger(loggers.PIPELINE)


class SyncPipeline:
    """Runs sync cycles against one store.

    Args:
        clock: observation time (events, history, runs); the demo accelerates it.
        lease_clock: real time for lease expiry and interval slots.
        owner: this worker's name in ``sync_targets`` and ``sync_runs``.
        lease_ttl: seconds a lease lasts unless renewed; renewed every third of it.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        owner: str,
        lease_ttl: float = 30.0,
        lease_clock: Clock | None = None,
        secrets: Collection[str] = frozenset(),
    ):
        self.store = store
        self.clock = clock
        self.lease_clock = lease_clock or SystemClock()
        self.owner = owner
        self.lease_ttl = lease_ttl
        self._secrets = secrets
        self._drift: dict[TargetKey, DriftReports] = {}
        self._digests = DigestTables(store)

    async def sync_once(
        self, provider: Provider, policy: CyclePolicy, *, force: bool = True
    ) -> RunSummary:
        """Run one cycle of ``provider``'s target if its lease can be had.

        ``force`` runs even when this interval's cycle already ran (``sync-once``);
        the scheduler passes False. Returns ``busy`` or ``not_due`` summaries
        (unrecorded) when no cycle ran. Provider and storage failures end the cycle
        as ``failed`` (recorded, not raised). Raises StorageError only when the
        cycle cannot be started or recorded; that still counts as a failed cycle.
        """
        target = provider.source.target
        started = time.monotonic()
        try:
            claim = await self.store.claim(
                target,
                owner=self.owner,
                lease_clock=self.lease_clock,
                ttl=self.lease_ttl,
                interval=policy.interval,
                clock=self.clock,
                force=force,
            )
        except StorageError:
            metrics.CYCLES.labels(target.provider, target.account, "failed").inc()
            raise
        if isinstance(claim, LeaseHeld):
            return RunSummary(
                status="busy",
                error=f"{target} is being synced elsewhere, by {claim.owner} "
                f"(lease until {to_iso8601(claim.expires_at)})",
            )
        if isinstance(claim, NotDue):
            return RunSummary(status="not_due")
        if claim.took_over_from is not None:
            metrics.LEASE_TAKEOVERS.labels(target.provider, target.account).inc()
            log.info(
                "%s: took over from %s, whose lease had expired",
                target,
                claim.took_over_from,
                extra={
                    "event": "lease.takeover",
                    "target": str(target),
                    "from": claim.took_over_from,
                },
            )
        metrics.LEASES_HELD.inc()
        try:
            return await self._cycle(provider, claim, policy, started)
        finally:
            metrics.LEASES_HELD.dec()

    async def _cycle(
        self, provider: Provider, lease: Lease, policy: CyclePolicy, started: float
    ) -> RunSummary:
        totals = CycleTotals()
        status, error = "failed", None
        begun = self.lease_clock.now()
        full = provider.dialect.lists_less and policy.full_refresh_due(lease, begun)
        try:
            lost = await under_lease(
                self.store,
                lease,
                self.lease_clock,
                self._listing(provider, lease, policy, totals, full_refresh=full),
            )
            status = "superseded" if lost else "partial" if totals.deferred else "succeeded"
            if lost:
                error = f"{lease.target}: the lease was taken over by another worker"
        except LeaseLost as exc:
            status, error = "superseded", str(exc)
        except (ProviderError, StorageError) as exc:
            error = redact(str(exc), self._secrets)
            log.warning(
                "sync of %s failed: %s",
                lease.target,
                error,
                extra={"event": "sync.failed", "target": str(lease.target), "run_id": lease.run_id},
            )
        except anyio.get_cancelled_exc_class():
            status, error = "canceled", "the cycle was canceled (shutdown)"
            raise
        except Exception as exc:
            # A bug, not a provider or database failure: record it, then let it surface.
            error = redact(f"internal error: {type(exc).__name__}: {exc}", self._secrets)
            raise
        finally:
            summary = totals.summary(status, error)
            try:
                with anyio.CancelScope(shield=True):
                    summary = await self.store.finish(
                        lease,
                        self.clock.now(),
                        summary,
                        observed_at=totals.observed_at,
                        full_refresh_at=begun if full else None,
                    )
            finally:
                report_cycle(lease, summary, time.monotonic() - started)
        return summary

    async def _listing(
        self,
        provider: Provider,
        lease: Lease,
        policy: CyclePolicy,
        totals: CycleTotals,
        *,
        full_refresh: bool,
    ) -> None:
        limits = policy.limits
        table, empty = self._digests.take(lease, bound=limits.max_remembered_campaigns)

        async def fill_table() -> None:  # while the first pages are fetched
            if empty:
                await self._digests.fill(lease.target, table, full_refresh=full_refresh)

        step = PageStep(
            self.store,
            lease,
            provider.source,
            provider.dialect,
            limits,
            self._drift_of(lease.target),
            self.lease_clock.now,
            full_refresh=full_refresh,
            secrets=self._secrets,
            digests=table,
        )
        listing = Listing(provider.dialect, self._secrets, seen=table, skip=not full_refresh)

        failure: ProviderError | None = None
        with anyio.move_on_after(limits.cycle_deadline) as deadline:
            async with write_behind(depth=1) as submit:
                batches = PageBatches(
                    step,
                    listing,
                    totals,
                    write_chunk=limits.write_chunk,
                    wait=limits.batch_wait,
                    submit=submit,
                    secrets=self._secrets,
                )

                async def take_page(observed_at: datetime, page: Sequence[RawRecord]) -> None:
                    if batches.pages_taken >= limits.max_pages:
                        raise ProviderRejected(
                            f"the listing passed {limits.max_pages} pages (limits.max_pages) "
                            "and was stopped; the provider's paging may never end",
                            target=str(lease.target),
                        )
                    await batches.add(observed_at, page)

                source = provider.source
                async with batches.running():
                    try:
                        async with source.listing() as pages:
                            await consume_prefetched(
                                pages,
                                self.clock,
                                limits.prefetch_pages,
                                take_page,
                                lead=source.pages_ahead,
                                ready=fill_table,
                            )
                    except ProviderError as exc:
                        failure = exc  # raised once what was listed before it is stored
        if failure is not None:
            raise failure
        if deadline.cancelled_caught:
            raise ProviderRejected(
                f"the cycle passed its deadline of {limits.cycle_deadline:g} s "
                "(limits.cycle_deadline) and was stopped",
                target=str(lease.target),
            )
        if totals.deferred:
            log.warning(
                "%s: %d campaigns kept their stored state (their details failed); "
                "nothing vanishes this cycle",
                lease.target,
                totals.deferred,
                extra={"event": "sync.partial", "target": str(lease.target)},
            )
        else:
            await self._vanish(lease, listing, policy, totals)
        # Only a listing that ended well leaves a table the next cycle can trust; a full
        # refresh confirmed only what changed, so the next cycle loads the rest instead.
        if not full_refresh:
            self._digests.keep(lease, table)

    def _drift_of(self, target: TargetKey) -> DriftReports:
        if target not in self._drift:
            self._drift[target] = DriftReports(self.store, target)
        return self._drift[target]

    async def _vanish(
        self, lease: Lease, listing: Listing, policy: CyclePolicy, totals: CycleTotals
    ) -> None:
        """After a complete listing: count a miss for every stored campaign it lacked."""
        if listing.unidentified:
            log.warning(
                "%s: %d listed records had no readable id; nothing vanishes this cycle",
                lease.target,
                listing.unidentified,
                extra={"event": "sync.vanish_skipped", "target": str(lease.target)},
            )
            return
        vanished, events = await listing.vanish_missing(
            self.store,
            lease,
            listed_at=self.clock.now(),
            lease_now=self.lease_clock.now,
            misses_to_vanish=policy.misses_to_vanish,
            all_stored=not (totals.rejected or totals.stale),
        )
        totals.vanished += vanished
        totals.events += events.total()
        labels = (lease.target.provider, lease.target.account)
        metrics.CHANGED.labels(*labels).inc(vanished)
        for kind, n in events.items():
            metrics.EVENTS.labels(*labels, kind).inc(n)
