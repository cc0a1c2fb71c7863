"""One page of a listing, from raw records to one write transaction.

1. Read the stored heads of the page's campaigns (one query).
2. Skip what is known unchanged: the same list-item fingerprint (and, where the
   status is read against the clock, the same status read again). A full detail
   refresh (``detail_refresh_interval``) skips nothing here: every detail is
   read, and only what changed is written.
3. Fetch details for the rest (providers whose list shows less); a campaign
   whose detail fails is deferred: its stored state is kept this cycle.
4. Quarantine unstorable records (``domain.poison``), normalize the rest (pure),
   note schema drift, drop stale observations, diff against the stored versions.
5. Write it all in one transaction fenced by the lease; a page with nothing to
   store (the common case: nothing changed) opens no transaction at all.

Nothing here raises for one bad record; a failed write raises (StorageError,
LeaseLost) and the transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from worker.config import LimitSettings
from worker.domain.campaign import Campaign, Status
from worker.domain.diff import Change, StoredHead, diff, known_unchanged, stale_reason, unchanged
from worker.domain.drift import DriftNote, drift_event, drift_notes
from worker.domain.poison import find_poison
from worker.domain.records import Rejection, RejectionKind, reader_error
from worker.domain.scrub import scrub
from worker.domain.timestamps import to_iso8601
from worker.errors import NormalizationError
from worker.ports import Lease, Provider, RawRecord, Store, Written
from worker.sync.drift_reports import DriftReports
from worker.sync.listing import Entry

__all__ = ["PageStep", "StoredPage"]


@dataclass(frozen=True, slots=True)
class StoredPage:
    """What one page wrote, set aside, deferred and refused as stale (with the reasons)."""

    written: Written
    rejections: tuple[Rejection, ...]
    stale: tuple[str, ...] = ()
    deferred: int = 0
    drift: tuple[DriftNote, ...] = ()
    unknown_statuses: int = 0


@dataclass
class _Normalized:
    campaigns: list[tuple[Campaign, str, str | None]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    notes: list[DriftNote] = field(default_factory=list)
    unknown_statuses: list[str] = field(default_factory=list)


class PageStep:
    """The page step of one cycle of one target."""

    def __init__(
        self,
        store: Store,
        lease: Lease,
        provider: Provider,
        limits: LimitSettings,
        drift: DriftReports,
        lease_now: Callable[[], datetime],
        *,
        full_refresh: bool = False,
        secrets: Collection[str] = (),
    ) -> None:
        self._store = store
        self._lease = lease
        self._provider = provider
        self._limits = limits
        self._drift = drift
        self._lease_now = lease_now
        self._full_refresh = full_refresh  # every campaign's detail is read this cycle
        self._secrets = secrets  # blanked out of every detail record (``domain.scrub``)
        # Pages and records read since the last page that wrote (see ``run``).
        self._unwritten_pages = 0
        self._unwritten_records = 0

    async def run(
        self,
        entries: Sequence[Entry],
        rejections: Sequence[Rejection],
        *,
        observed_at: datetime,
        records: int,
        pages: int = 1,
    ) -> StoredPage:
        """Diff and store one page (or chunk) of entries; see the module docstring."""
        target = self._lease.target
        listed = [e for e in entries if e.campaign_id]
        stored_page = await self._store.heads(
            target,
            [e.campaign_id for e in listed if e.campaign_id],
            # A status read against the clock needs its head even when the item is the same,
            # and a full refresh reads every detail whatever the item.
            list_hashes=None
            if self._full_refresh
            else [None if self._reads_clock(e.raw) else e.fingerprint for e in listed],
        )
        heads = stored_page.heads
        changed = [
            e
            for e in entries
            if e.campaign_id not in stored_page.unchanged
            and not self._known_unchanged(heads, e, observed_at)
        ]
        found = _Normalized(rejections=list(rejections))
        to_read: list[tuple[Entry, RawRecord]] = []
        deferred = 0
        details = await self._provider.details([e.raw for e in changed]) if changed else []
        secrets = tuple(self._secrets)
        for entry, detail in zip(changed, details, strict=True):
            stored = entry.campaign_id is not None and entry.campaign_id in stored_page
            if detail.record is None or (detail.missing and stored):
                deferred += 1
                found.rejections.append(_deferral(entry, detail.failure))
            else:
                to_read.append((entry, scrub(detail.record, secrets)))
        self._normalize(to_read, observed_at, found)
        drift = await self._drift.new(found.notes)
        admitted = {(n.field, n.value) for n in drift}
        found.rejections = [
            r
            for r in found.rejections
            if r.kind is not RejectionKind.UNKNOWN_STATUS
            or self._note_allowed(str(r.detail.get("status_raw")), admitted)
        ]
        stale: list[str] = []
        candidates = []
        for campaign, fingerprint, list_hash in found.campaigns:
            head = heads.get(campaign.campaign_id)
            try:
                if unchanged(head, campaign, fingerprint):
                    continue
                why = stale_reason(head, campaign, observed_at)
            except Exception as exc:  # noqa: BLE001 - a bug costs its record, never the page
                found.rejections.append(self._bug(exc, campaign.campaign_id, campaign.raw))
                continue
            if why is not None:
                stale.append(f"campaign {campaign.campaign_id}: {why}")
                continue
            candidates.append((campaign, fingerprint, list_hash))
        states = await self._store.load(
            target, [c.campaign_id for c, _, _ in candidates if c.campaign_id in heads]
        )
        changes: list[Change] = []
        for campaign, fingerprint, list_hash in candidates:
            try:
                change = diff(
                    states.get(campaign.campaign_id),
                    campaign,
                    observed_at,
                    fingerprint=fingerprint,
                    list_hash=list_hash,
                )
            except Exception as exc:  # noqa: BLE001 - as above
                found.rejections.append(self._bug(exc, campaign.campaign_id, campaign.raw))
                continue
            if change is not None:
                changes.append(change)
        listed_again = [cid for cid, head in heads.items() if head.missed_listings]
        if not (changes or found.rejections or listed_again or drift or deferred):
            # Nothing to store: no transaction at all. The page still counts, in the
            # next page that writes and in the run's totals when the cycle finishes.
            self._unwritten_pages += pages
            self._unwritten_records += records
            return StoredPage(
                written=Written(),
                rejections=(),
                stale=tuple(stale),
                unknown_statuses=len(found.unknown_statuses),
            )
        async with self._store.page(
            self._lease, self._lease_now(), observed_at=observed_at
        ) as writer:
            if writer.newer_page_at is not None:
                newer = to_iso8601(writer.newer_page_at)
                stale.extend(
                    f"campaign {ch.campaign.campaign_id}: fetched at {to_iso8601(observed_at)}, "
                    f"before a page already written (fetched at {newer})"
                    for ch in changes
                )
                changes = []
            written = await writer.write(
                changes,
                found.rejections,
                records=records + self._unwritten_records,
                pages=pages + self._unwritten_pages,
                listed_again=listed_again,
                drift=[drift_event(target, note, observed_at) for note in drift],
                deferred=deferred,
            )
        self._unwritten_pages = self._unwritten_records = 0
        self._drift.committed(drift)
        return StoredPage(
            written=written,
            rejections=tuple(found.rejections),
            stale=tuple(stale),
            deferred=deferred,
            drift=tuple(drift),
            unknown_statuses=len(found.unknown_statuses),
        )

    def _note_allowed(self, status_raw: str, admitted: set[tuple[str, str]]) -> bool:
        return any(
            self._drift.reported(name, status_raw) or (name, status_raw) in admitted
            for name in self._provider.enums
        )

    def _bug(self, exc: Exception, campaign_id: str | None, raw: object) -> Rejection:
        return reader_error(self._provider.name, exc, campaign_id, raw)

    def _reads_clock(self, raw: RawRecord) -> bool:
        try:
            return self._provider.reads_clock(raw)
        except Exception:  # noqa: BLE001 - read it whole: normalize quarantines a broken record
            return True

    def _known_unchanged(
        self, heads: Mapping[str, StoredHead], entry: Entry, observed_at: datetime
    ) -> bool:
        head = heads.get(entry.campaign_id) if entry.campaign_id else None
        if self._full_refresh:
            return False
        if not known_unchanged(head, entry.fingerprint, clock_dependent=False):
            return False
        if not self._reads_clock(entry.raw):
            return True
        # Same list item, but its status is read against the clock: read it again,
        # from the stored dates (the same record has the same dates).
        assert head is not None
        try:
            return self._provider.status_again(head, observed_at) is head.status
        except Exception:  # noqa: BLE001 - read it whole: normalize quarantines a broken record
            return False

    def _normalize(
        self, records: Sequence[tuple[Entry, RawRecord]], observed_at: datetime, into: _Normalized
    ) -> None:
        for entry, raw in records:
            try:
                self._read(entry, raw, observed_at, into)
            except NormalizationError as exc:
                into.rejections.append(
                    Rejection(
                        kind=RejectionKind.NORMALIZATION,
                        reason=str(exc),
                        field=exc.field,
                        campaign_id=entry.campaign_id,
                        raw=raw if isinstance(raw, Mapping) else {"record": raw},
                    )
                )
            except Exception as exc:  # noqa: BLE001 - a bug costs its record, never the page
                into.rejections.append(self._bug(exc, entry.campaign_id, raw))

    def _read(self, entry: Entry, raw: RawRecord, observed_at: datetime, into: _Normalized) -> None:
        """Quarantine, normalize and note one record; ``into`` changes only if nothing raised."""
        provider, limits = self._provider, self._limits
        poison = find_poison(
            raw, max_string_chars=limits.max_string_chars, max_depth=limits.max_depth
        )
        if poison is not None:
            into.rejections.append(
                Rejection(
                    kind=RejectionKind.UNSTORABLE,
                    reason=f"{poison[0]}: {poison[1]}" if poison[0] else poison[1],
                    field=poison[0],
                    campaign_id=entry.campaign_id,
                    raw=raw,
                )
            )
            return
        campaign = provider.normalize(raw, observed_at=observed_at)
        # The list item's fingerprint decides the next skip; the record's, the version.
        merged = raw is not entry.raw or entry.fingerprint is None
        fingerprint = campaign.fingerprint() if merged else entry.fingerprint
        assert fingerprint is not None
        notes = drift_notes(
            raw,
            campaign.campaign_id,
            enums=provider.enums,
            documented_keys=provider.documented_keys or frozenset(raw),
        )
        into.campaigns.append((campaign, fingerprint, entry.fingerprint))
        into.notes.extend(notes)
        if campaign.status is Status.UNKNOWN:
            into.unknown_statuses.append(campaign.status_raw)
            into.rejections.append(
                Rejection(
                    kind=RejectionKind.UNKNOWN_STATUS,
                    reason=f"status {campaign.status_raw!r} is not in the {provider.name} "
                    "status table; the campaign is stored with status 'unknown'",
                    campaign_id=campaign.campaign_id,
                    detail={"status_raw": campaign.status_raw},
                )
            )


def _deferral(entry: Entry, failure: str | None) -> Rejection:
    if failure is None:
        return Rejection(
            kind=RejectionKind.DETAIL_MISSING,
            reason="listed, but its detail answered 404; its stored state is kept this cycle",
            campaign_id=entry.campaign_id,
        )
    return Rejection(
        kind=RejectionKind.DETAIL,
        reason=f"its detail failed ({failure}); its stored state is kept this cycle",
        campaign_id=entry.campaign_id,
    )
