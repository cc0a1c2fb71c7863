"""What one cycle did: its running totals, and how each page and its end are counted and logged."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from worker.domain.campaign import TargetKey
from worker.domain.records import Rejection, RejectionKind
from worker.observability import loggers, metrics
from worker.observability.redaction import redact
from worker.ports import Lease, RunSummary
from worker.sync.page import StoredPage

__all__ = ["CycleTotals", "report_cycle", "report_page"]

# A complete listing: partial only means some details were deferred to the next cycle.
COMPLETE = frozenset({"succeeded", "partial"})
log = logging.getLogger(loggers.PIPELINE)


def report_page(
    target: TargetKey, records: int, stored: StoredPage, secrets: Collection[str]
) -> None:
    """Log what one page (or chunk) of ``records`` records set aside, and count it."""
    for why in stored.stale:
        log.warning(
            "%s: not applied: %s",
            target,
            why,
            extra={"event": "sync.stale", "target": str(target)},
        )
    for note in stored.drift:
        log.warning(
            "%s: schema drift: %s = %r (campaign %s)",
            target,
            note.field,
            note.value,
            note.campaign_id,
            extra={"event": "sync.schema_drift", "target": str(target), "field": note.field},
        )
    labels = (target.provider, target.account)
    for rejection in stored.rejections:
        metrics.REJECTED.labels(*labels, rejection.kind.value).inc()
        if rejection.kind is RejectionKind.READER_ERROR:
            metrics.READER_ERRORS.labels(*labels).inc()
            log.warning(
                "%s: campaign %s quarantined: %s",
                target,
                rejection.campaign_id,
                redact(rejection.reason, secrets),
                extra={"event": "sync.reader_error", "target": str(target)},
            )
    metrics.UNKNOWN_STATUS.labels(*labels).inc(stored.unknown_statuses)
    metrics.RECORDS.labels(*labels).inc(records)
    metrics.CHANGED.labels(*labels).inc(stored.written.changed)
    for kind, n in stored.written.event_types.items():
        metrics.EVENTS.labels(*labels, kind).inc(n)


def report_cycle(lease: Lease, summary: RunSummary, seconds: float) -> None:
    """Count the cycle in the metrics and log how it ended (event ``sync.finished``)."""
    target = lease.target
    metrics.CYCLES.labels(target.provider, target.account, summary.status).inc()
    metrics.CYCLE_SECONDS.labels(target.provider, target.account).observe(seconds)
    if summary.status in COMPLETE:
        metrics.LAST_SUCCESS.labels(target.provider, target.account).set_to_current_time()
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
            "deferred": summary.deferred,
            "seconds": round(seconds, 3),
        },
    )


@dataclass
class CycleTotals:
    """What a cycle did so far, page by page."""

    pages: int = 0
    records: int = 0
    changed: int = 0
    events: int = 0
    rejected: int = 0
    vanished: int = 0
    stale: int = 0
    deferred: int = 0
    observed_at: datetime | None = None  # when the newest page was fetched

    def observed(self, at: datetime) -> None:
        if self.observed_at is None or at > self.observed_at:
            self.observed_at = at

    def add(
        self,
        *,
        pages: int,
        records: int,
        changed: int,
        events: int,
        rejections: Sequence[Rejection],
    ) -> None:
        self.pages += pages
        self.records += records
        self.changed += changed
        self.events += events
        self.rejected += sum(1 for r in rejections if r.kind.quarantines)

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
            deferred=self.deferred,
            error=error,
        )
