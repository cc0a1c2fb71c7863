"""One sync cycle of one target: claim its lease, list, diff and store page by page,
vanish what a complete listing missed, record the run.

Each page is one transaction fenced by the lease (see ``worker.storage.leases``).
Before a record is normalized, its provider data's fingerprint is compared with
the stored one: unchanged records cost one indexed read per page and nothing
else. A record that fails to normalize is quarantined and the rest of its page
goes on; a page that fails after retries fails this target's cycle only, and
then nothing vanishes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import anyio

from worker import metrics
from worker.clock import SystemClock
from worker.domain.campaign import TargetKey
from worker.domain.records import Rejection, RejectionKind, redact
from worker.domain.timestamps import to_iso8601
from worker.errors import LeaseLost, ProviderError, StorageError
from worker.leasing import under_lease
from worker.listing import Listing, store_page
from worker.ports import Clock, Lease, LeaseHeld, NotDue, Provider, RawRecord, RunSummary, Store

__all__ = ["CyclePolicy", "SyncPipeline"]

log = logging.getLogger(__name__)

# Stored ids read per query when looking for campaigns a listing missed.
VANISH_BATCH = 5000


@dataclass(frozen=True, slots=True, kw_only=True)
class CyclePolicy:
    """A target's schedule and vanishing rule, from its settings."""

    interval: float
    misses_to_vanish: int = 1


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
        secrets: frozenset[str] = frozenset(),
    ):
        self.store = store
        self.clock = clock
        self.lease_clock = lease_clock or SystemClock()
        self.owner = owner
        self.lease_ttl = lease_ttl
        self._secrets = secrets
        self._logged_unknown: set[tuple[TargetKey, str]] = set()

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
        target = provider.target
        started = time.monotonic()
        try:
            claim = await self.store.claim(
                target,
                owner=self.owner,
                now=self.lease_clock.now(),
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
        return await self._cycle(provider, claim, policy, started)

    async def _cycle(
        self, provider: Provider, lease: Lease, policy: CyclePolicy, started: float
    ) -> RunSummary:
        totals = _Totals()
        status, error = "failed", None
        try:
            lost = await under_lease(
                self.store, lease, self.lease_clock, self._listing(provider, lease, policy, totals)
            )
            status = "superseded" if lost else "succeeded"
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
                    await self.store.finish(lease, self.clock.now(), summary)
            finally:
                self._report(lease, summary, time.monotonic() - started)
        return summary

    async def _listing(
        self, provider: Provider, lease: Lease, policy: CyclePolicy, totals: _Totals
    ) -> None:
        listing = Listing(provider)
        pages = aiter(provider.pages())
        while True:
            # A page is observed when its request starts: an observation is stale
            # when it was fetched before the stored version was.
            fetched_at = self.clock.now()
            try:
                page = await anext(pages)
            except StopAsyncIteration:
                break
            await self._sync_page(provider, lease, page, fetched_at, listing, totals)
        await self._vanish(lease, listing, policy, totals)

    async def _sync_page(
        self,
        provider: Provider,
        lease: Lease,
        page: Sequence[RawRecord],
        observed_at: datetime,
        listing: Listing,
        totals: _Totals,
    ) -> None:
        entries, duplicates = listing.take(page)
        async with self.store.page(
            lease, self.lease_clock.now(), observed_at=observed_at
        ) as writer:
            stored = await store_page(
                writer, provider, entries, duplicates, observed_at=observed_at, records=len(page)
            )
        for why in stored.stale:
            log.warning(
                "%s: not applied: %s",
                lease.target,
                why,
                extra={"event": "sync.stale", "target": str(lease.target)},
            )
        written = stored.written
        totals.add_page(len(page), written.changed, written.events, stored.rejections)
        totals.stale += len(stored.stale) + written.dropped
        self._count_page(lease.target, len(page), written.events, stored.rejections)

    async def _vanish(
        self, lease: Lease, listing: Listing, policy: CyclePolicy, totals: _Totals
    ) -> None:
        """After a complete listing: count a miss for every stored campaign it lacked."""
        target = lease.target
        if listing.unidentified:
            log.warning(
                "%s: %d listed records had no readable id; nothing vanishes this cycle",
                target,
                listing.unidentified,
                extra={"event": "sync.vanish_skipped", "target": str(target)},
            )
            return
        listed_at = self.clock.now()
        after = ""
        while ids := await self.store.listed_ids(target, after=after, limit=VANISH_BATCH):
            after = ids[-1]
            missing = [cid for cid in ids if cid not in listing.seen]
            if not missing:
                continue
            async with self.store.page(lease, self.lease_clock.now()) as writer:
                written = await writer.miss(
                    missing, listed_at=listed_at, misses_to_vanish=policy.misses_to_vanish
                )
            totals.vanished += written.changed
            totals.events += written.events
            metrics.EVENTS.labels(target.provider, target.account).inc(written.events)

    def _count_page(
        self, target: TargetKey, records: int, events: int, rejections: Sequence[Rejection]
    ) -> None:
        for rejection in rejections:
            metrics.REJECTED.labels(target.provider, target.account, rejection.kind.value).inc()
            if rejection.kind is RejectionKind.UNKNOWN_STATUS:
                self._note_unknown(target, str(rejection.detail["status_raw"]))
        metrics.RECORDS.labels(target.provider, target.account).inc(records)
        metrics.EVENTS.labels(target.provider, target.account).inc(events)

    def _note_unknown(self, target: TargetKey, status_raw: str) -> None:
        metrics.UNKNOWN_STATUS.labels(target.provider, target.account, status_raw).inc()
        if (target, status_raw) not in self._logged_unknown:
            self._logged_unknown.add((target, status_raw))
            log.warning(
                "%s: provider status %r is not in the status table; stored as 'unknown'",
                target,
                status_raw,
                extra={
                    "event": "sync.unknown_status",
                    "target": str(target),
                    "status_raw": status_raw,
                },
            )

    def _report(self, lease: Lease, summary: RunSummary, seconds: float) -> None:
        target = lease.target
        metrics.CYCLES.labels(target.provider, target.account, summary.status).inc()
        metrics.CYCLE_SECONDS.labels(target.provider, target.account).observe(seconds)
        log.info(
            "sync of %s %s: %d records, %d changed, %d events, %d rejected, %d vanished",
            target,
            summary.status,
            summary.records,
            summary.changed,
            summary.events,
            summary.rejected,
            summary.vanished,
            extra={
                "event": "sync.finished",
                "target": str(target),
                "run_id": lease.run_id,
                "status": summary.status,
                "pages": summary.pages,
                "records": summary.records,
                "changed": summary.changed,
                "events": summary.events,
                "rejected": summary.rejected,
                "vanished": summary.vanished,
                "stale": summary.stale,
                "seconds": round(seconds, 3),
            },
        )


@dataclass
class _Totals:
    pages: int = 0
    records: int = 0
    changed: int = 0
    events: int = 0
    rejected: int = 0
    vanished: int = 0
    stale: int = 0

    def add_page(
        self, records: int, changed: int, events: int, rejections: Sequence[Rejection]
    ) -> None:
        self.pages += 1
        self.records += records
        self.changed += changed
        self.events += events
        self.rejected += sum(1 for r in rejections if r.kind is not RejectionKind.UNKNOWN_STATUS)

    def summary(self, status: str, error: str | None) -> RunSummary:
        return RunSummary(
            status=status,
            pages=self.pages,
            records=self.records,
            changed=self.changed,
            events=self.events,
            rejected=self.rejected,
            vanished=self.vanished,
            stale=self.stale,
            error=error,
        )
