"""One cycle's listing of a target, and what one of its pages changes.

Before anything is normalized, each raw record gets its campaign id and the
fingerprint of its provider data. The :class:`Listing` remembers every id it
saw: a campaign listed twice in one cycle keeps its first record (the second is
quarantined), and after a complete listing the stored campaigns it never saw
are the ones that went missing. Memory is one set of ids per cycle.

:func:`store_page` is one page's step inside its transaction: records whose
fingerprint matches the stored one are skipped before normalizing; the rest are
normalized, stale ones dropped, and the changes diffed and written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from worker.domain.campaign import Campaign, Status, record_fingerprint, record_id
from worker.domain.diff import diff, known_unchanged, stale_reason, unchanged
from worker.domain.records import Rejection, RejectionKind
from worker.domain.timestamps import to_iso8601
from worker.errors import NormalizationError
from worker.ports import PageWriter, Provider, RawRecord, Written

__all__ = ["Entry", "Listing", "NormalizedPage", "StoredPage", "normalize_entries", "store_page"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One raw record with its id and fingerprint, when they can be read."""

    campaign_id: str | None
    raw: RawRecord
    fingerprint: str | None


@dataclass(frozen=True, slots=True)
class NormalizedPage:
    """The campaigns that normalized (with their fingerprints), and what was set aside."""

    campaigns: tuple[tuple[Campaign, str], ...]
    rejections: tuple[Rejection, ...] = field(default=())


class Listing:
    """The ids one cycle has listed so far."""

    def __init__(self, provider: Provider) -> None:
        self._id_field = provider.id_field
        self.seen: set[str] = set()
        self.unidentified = 0  # records whose id could not be read

    def take(self, page: Sequence[RawRecord]) -> tuple[list[Entry], list[Rejection]]:
        """The page's entries, minus campaigns this cycle already listed (quarantined)."""
        entries: list[Entry] = []
        duplicates: list[Rejection] = []
        for raw in page:
            campaign_id = record_id(raw, self._id_field)
            if campaign_id is None:
                self.unidentified += 1
            elif campaign_id in self.seen:
                duplicates.append(
                    Rejection(
                        kind=RejectionKind.NORMALIZATION,
                        reason=f"{self._id_field}={campaign_id!r}: listed twice in one cycle; "
                        "the first record was kept",
                        field=self._id_field,
                        campaign_id=campaign_id,
                        raw=raw,
                    )
                )
                continue
            else:
                self.seen.add(campaign_id)
            fingerprint = record_fingerprint(raw) if isinstance(raw, Mapping) else None
            entries.append(Entry(campaign_id, raw, fingerprint))
        return entries, duplicates


def normalize_entries(
    provider: Provider, entries: Sequence[Entry], observed_at: datetime
) -> NormalizedPage:
    """Normalize entries (pure); a bad record becomes a rejection, never an exception."""
    campaigns: list[tuple[Campaign, str]] = []
    rejections: list[Rejection] = []
    for entry in entries:
        raw = entry.raw
        try:
            campaign = provider.normalize(raw, observed_at=observed_at)
        except NormalizationError as exc:
            rejections.append(
                Rejection(
                    kind=RejectionKind.NORMALIZATION,
                    reason=str(exc),
                    field=exc.field,
                    campaign_id=entry.campaign_id,
                    raw=raw if isinstance(raw, Mapping) else {"record": raw},
                )
            )
            continue
        campaigns.append((campaign, entry.fingerprint or campaign.fingerprint()))
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
    return NormalizedPage(campaigns=tuple(campaigns), rejections=tuple(rejections))


@dataclass(frozen=True, slots=True)
class StoredPage:
    """What :func:`store_page` wrote, set aside and refused as stale (with the reasons)."""

    written: Written
    rejections: tuple[Rejection, ...]
    stale: tuple[str, ...]


async def store_page(
    writer: PageWriter,
    provider: Provider,
    entries: Sequence[Entry],
    rejections: Sequence[Rejection],
    *,
    observed_at: datetime,
    records: int,
) -> StoredPage:
    """Diff one page's entries against storage and write the changes, in ``writer``'s transaction.

    Raises whatever the writer raises (StorageError, LeaseLost); never raises for a bad record.
    """
    heads = await writer.heads([e.campaign_id for e in entries if e.campaign_id])
    todo = [
        e
        for e in entries
        if e.campaign_id is None
        or not known_unchanged(
            heads.get(e.campaign_id), e.fingerprint, clock_dependent=provider.clock_dependent
        )
    ]
    normalized = normalize_entries(provider, todo, observed_at)
    stale: list[str] = []
    candidates: list[tuple[Campaign, str]] = []
    for campaign, fingerprint in normalized.campaigns:
        head = heads.get(campaign.campaign_id)
        if unchanged(head, campaign, fingerprint):
            continue
        why = stale_reason(head, campaign, observed_at)
        if why is None and writer.newer_page_at is not None:
            why = (
                f"fetched at {to_iso8601(observed_at)}, before a page already written "
                f"(fetched at {to_iso8601(writer.newer_page_at)})"
            )
        if why is not None:
            stale.append(f"campaign {campaign.campaign_id}: {why}")
            continue
        candidates.append((campaign, fingerprint))
    stored = await writer.load([c.campaign_id for c, _ in candidates if c.campaign_id in heads])
    changes = [
        change
        for campaign, fingerprint in candidates
        if (
            change := diff(
                stored.get(campaign.campaign_id), campaign, observed_at, fingerprint=fingerprint
            )
        )
    ]
    all_rejections = (*rejections, *normalized.rejections)
    written = await writer.write(
        changes,
        all_rejections,
        records=records,
        listed_again=[cid for cid, head in heads.items() if head.missed_listings],
    )
    return StoredPage(written=written, rejections=all_rejections, stale=tuple(stale))
