"""One cycle's listing of a target: which campaigns it contained, and each page's records
read just far enough to know whether they changed.

Before anything is normalized, each raw record gets its campaign id and the
fingerprint of its provider data. The listing remembers every id it saw: a
campaign listed twice in one cycle keeps its first record (the second is
quarantined), and after a complete listing the stored campaigns it never saw
are the ones that went missing. Memory is one set of ids per cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from worker.domain.campaign import Campaign, Status, record_fingerprint, record_id
from worker.domain.records import Rejection, RejectionKind
from worker.errors import NormalizationError
from worker.ports import Provider, RawRecord

__all__ = ["Entry", "Listing", "NormalizedPage", "normalize_entries"]


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
