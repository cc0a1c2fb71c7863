"""One sync cycle of one target: fetch, normalize, diff, store.

Each page is normalized (pure), then written in one transaction that reads the
stored versions of that page's campaigns with one query. A record that fails
to normalize is quarantined and the rest of its page goes on; a page that fails
after retries fails this target's cycle only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio

from worker import metrics
from worker.domain.campaign import Campaign, Status, TargetKey
from worker.domain.diff import diff
from worker.domain.records import Rejection, RejectionKind, redact
from worker.errors import NormalizationError, ProviderError, StorageError
from worker.ports import CampaignStore, Clock, Provider, RawRecord, RunSummary

__all__ = ["NormalizedPage", "SyncPipeline", "normalize_page"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NormalizedPage:
    """A page's campaigns that normalized, and what was set aside."""

    campaigns: tuple[Campaign, ...]
    rejections: tuple[Rejection, ...] = field(default=())


def normalize_page(
    provider: Provider, page: Sequence[RawRecord], observed_at: datetime
) -> NormalizedPage:
    """Normalize every record of a page; never raises for a bad record."""
    seen: dict[str, Campaign] = {}
    rejections: list[Rejection] = []
    for raw in page:
        try:
            campaign = provider.normalize(raw, observed_at=observed_at)
        except NormalizationError as exc:
            rejections.append(
                Rejection(
                    kind=RejectionKind.NORMALIZATION,
                    reason=str(exc),
                    field=exc.field,
                    campaign_id=_best_effort_id(raw, provider.id_field),
                    raw=raw if isinstance(raw, Mapping) else {"record": raw},
                )
            )
            continue
        if campaign.campaign_id in seen:
            rejections.append(
                Rejection(
                    kind=RejectionKind.NORMALIZATION,
                    reason=f"{provider.id_field}={campaign.campaign_id!r}: appears twice in one "
                    "page; the first record was kept",
                    field=provider.id_field,
                    campaign_id=campaign.campaign_id,
                    raw=raw,
                )
            )
            continue
        seen[campaign.campaign_id] = campaign
        if campaign.status is Status.UNKNOWN:
            rejections.append(
                Rejection(
                    kind=RejectionKind.UNKNOWN_STATUS,
                    reason=f"status {campaign.status_raw!r} is not in the {provider.name} status "
                    "table; the campaign is stored with status 'unknown'",
                    campaign_id=campaign.campaign_id,
                    detail={"status_raw": campaign.status_raw},
                )
            )
    return NormalizedPage(campaigns=tuple(seen.values()), rejections=tuple(rejections))


def _best_effort_id(raw: Any, id_field: str) -> str | None:
    value = raw.get(id_field) if isinstance(raw, Mapping) else None
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


class SyncPipeline:
    """Runs sync cycles against one store with one clock.

    Long-lived: it remembers which unknown statuses it already logged, so each
    value is logged once per target for the life of the process.
    """

    def __init__(
        self, store: CampaignStore, clock: Clock, *, secrets: frozenset[str] = frozenset()
    ):
        self.store = store
        self.clock = clock
        self._secrets = secrets
        self._logged_unknown: set[tuple[TargetKey, str]] = set()

    async def sync_once(self, provider: Provider) -> RunSummary:
        """Run one cycle for ``provider``'s target and record it in ``sync_runs``.

        Provider and storage failures end the cycle as ``failed`` (recorded, not
        raised) so one bad target never stops the others. Raises StorageError
        only when the run itself cannot be recorded.
        """
        target = provider.target
        started = time.monotonic()
        run_id = await self.store.start_run(target, self.clock.now())
        totals = _Totals()
        status, error = "failed", None
        try:
            async for page in provider.pages():
                await self._sync_page(provider, run_id, page, totals)
            status = "succeeded"
        except (ProviderError, StorageError) as exc:
            error = redact(str(exc), self._secrets)
            log.warning(
                "sync of %s failed: %s",
                target,
                error,
                extra={"event": "sync.failed", "target": str(target), "run_id": run_id},
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
            with anyio.CancelScope(shield=True):
                await self.store.finish_run(run_id, self.clock.now(), summary)
            self._report(target, run_id, summary, time.monotonic() - started)
        return summary

    async def _sync_page(
        self, provider: Provider, run_id: int, page: Sequence[RawRecord], totals: _Totals
    ) -> None:
        target = provider.target
        observed_at = self.clock.now()
        normalized = normalize_page(provider, page, observed_at)
        async with self.store.page(target, run_id) as writer:
            stored = await writer.load([c.campaign_id for c in normalized.campaigns])
            changes = [
                change
                for campaign in normalized.campaigns
                if (change := diff(stored.get(campaign.campaign_id), campaign, observed_at))
            ]
            inserted = await writer.write(changes, normalized.rejections)
        totals.add(len(page), len(changes), inserted, normalized.rejections)
        for rejection in normalized.rejections:
            metrics.REJECTED.labels(target.provider, target.account, rejection.kind.value).inc()
            if rejection.kind is RejectionKind.UNKNOWN_STATUS:
                self._note_unknown(target, str(rejection.detail["status_raw"]))
        metrics.RECORDS.labels(target.provider, target.account).inc(len(page))
        metrics.EVENTS.labels(target.provider, target.account).inc(inserted)

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

    def _report(self, target: TargetKey, run_id: int, summary: RunSummary, seconds: float) -> None:
        metrics.CYCLES.labels(target.provider, target.account, summary.status).inc()
        metrics.CYCLE_SECONDS.labels(target.provider, target.account).observe(seconds)
        log.info(
            "sync of %s %s: %d records, %d changed, %d events, %d rejected",
            target,
            summary.status,
            summary.records,
            summary.changed,
            summary.events,
            summary.rejected,
            extra={
                "event": "sync.finished",
                "target": str(target),
                "run_id": run_id,
                "status": summary.status,
                "pages": summary.pages,
                "records": summary.records,
                "changed": summary.changed,
                "events": summary.events,
                "rejected": summary.rejected,
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

    def add(self, records: int, changed: int, events: int, rejections: Sequence[Rejection]) -> None:
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
            error=error,
        )
