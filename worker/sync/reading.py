"""Stage 3 of the page planner (:mod:`worker.sync.planner`): read a page's records. Pure.

A campaign whose detail failed, or answered 404 while it is stored, is deferred:
its stored state is kept this cycle. A record that holds what PostgreSQL cannot
store (``domain.poison``), that its reading rules refuse (NormalizationError) or
that they raise anything else on (a bug: ``reader_error``) is quarantined alone;
the rest of the page goes on. The rest is normalized, its schema drift and unknown
status noted, and compared with its stored head: unchanged and stale observations
are dropped, what remains is diffed by :func:`worker.sync.planner.plan_page`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from worker.domain.campaign import Campaign, Status
from worker.domain.diff import StoredHead, stale_reason, unchanged
from worker.domain.drift import DriftNote, drift_notes
from worker.domain.poison import find_poison
from worker.domain.records import Rejection, RejectionKind, reader_error
from worker.domain.scrub import scrub
from worker.errors import NormalizationError
from worker.ports import Detail, Dialect, PageHeads, RawRecord
from worker.sync.listing import Entry
from worker.sync.policy import CycleLimits

__all__ = ["Candidate", "Gathered", "PageReading", "ToRead", "read_page"]


@dataclass(frozen=True, slots=True)
class ToRead:
    """The entries whose records are read (details fetched first), in page order, and
    the ids known unchanged from their list item alone."""

    entries: tuple[Entry, ...]
    unchanged: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Gathered:
    """Stages 1 and 2 for some listed entries: their stored heads, the entries read
    with their details (in order), and the ids known unchanged. Several pages' are
    :meth:`joined`; a write chunk takes its own entries' :meth:`part`."""

    heads: PageHeads
    to_read: ToRead
    details: tuple[Detail, ...]

    @staticmethod
    def joined(parts: Sequence[Gathered]) -> Gathered:
        """One for all of ``parts`` (a cycle lists each campaign once: no id repeats)."""
        heads: dict[str, StoredHead] = {}
        for part in parts:
            heads.update(part.heads.heads)
        return Gathered(
            PageHeads(heads, frozenset().union(*(part.heads.unchanged for part in parts))),
            ToRead(
                tuple(e for part in parts for e in part.to_read.entries),
                tuple(cid for part in parts for cid in part.to_read.unchanged),
            ),
            tuple(d for part in parts for d in part.details),
        )

    def part(self, entries: Sequence[Entry]) -> Gathered:
        """What was gathered for ``entries`` (some of those this was gathered for)."""
        chosen = {id(entry) for entry in entries}
        ids = {entry.campaign_id for entry in entries if entry.campaign_id is not None}
        pairs = [
            (entry, detail)
            for entry, detail in zip(self.to_read.entries, self.details, strict=True)
            if id(entry) in chosen
        ]
        return Gathered(
            PageHeads(
                {cid: head for cid, head in self.heads.heads.items() if cid in ids},
                self.heads.unchanged & ids,
            ),
            ToRead(
                tuple(entry for entry, _ in pairs),
                tuple(cid for cid in self.to_read.unchanged if cid in ids),
            ),
            tuple(detail for _, detail in pairs),
        )


class Candidate(NamedTuple):
    """A normalized record that is new or changed and not stale: it is diffed."""

    campaign: Campaign
    fingerprint: str  # of the record read (the version's content hash)
    list_hash: str | None  # of the list item (the next cycle's skip)


@dataclass(frozen=True, slots=True, kw_only=True)
class PageReading:
    """What a page's records say before the stored states are read (see :func:`read_page`)."""

    candidates: tuple[Candidate, ...]
    states_wanted: tuple[str, ...]  # stored candidates, whose full state the diff needs
    rejections: tuple[Rejection, ...]  # the listing's, deferrals, quarantines, notes
    drift: tuple[DriftNote, ...]  # every undocumented value seen, reported or not
    unknown_statuses: int
    deferred: int
    unchanged: tuple[str, ...]
    stale: tuple[str, ...]  # "campaign <id>: <why>"
    listed_again: tuple[str, ...]  # stored ids with missed listings, listed again


def read_page(
    to_read: ToRead,
    details: Sequence[Detail],
    heads: PageHeads,
    dialect: Dialect,
    observed_at: datetime,
    *,
    limits: CycleLimits,
    listing_rejections: Sequence[Rejection] = (),
    secrets: Sequence[str] = (),
) -> PageReading:
    """Read the records of ``to_read`` (one Detail each, in order) against ``heads``.

    ``secrets`` are blanked out of every detail record (``domain.scrub``);
    ``listing_rejections`` (duplicates, unreadable ids) lead the page's rejections.
    """
    rejections = list(listing_rejections)
    records: list[tuple[Entry, RawRecord]] = []
    deferred = 0
    for entry, detail in zip(to_read.entries, details, strict=True):
        stored = entry.campaign_id is not None and entry.campaign_id in heads
        if detail.record is None or (detail.missing and stored):
            deferred += 1
            rejections.append(_deferral(entry, detail.failure))
        else:
            records.append((entry, scrub(detail.record, secrets)))
    read, notes, unknown_statuses = _read_records(records, dialect, observed_at, limits, rejections)
    same = list(to_read.unchanged)
    stale: list[str] = []
    candidates: list[Candidate] = []
    for candidate in read:
        campaign = candidate.campaign
        head = heads.heads.get(campaign.campaign_id)
        try:
            if unchanged(head, campaign, candidate.fingerprint):
                same.append(campaign.campaign_id)
                continue
            why = stale_reason(head, campaign, observed_at)
        except Exception as exc:  # noqa: BLE001 - a bug costs its record, never the page
            rejections.append(reader_error(dialect.name, exc, campaign.campaign_id, campaign.raw))
            continue
        if why is not None:
            stale.append(f"campaign {campaign.campaign_id}: {why}")
            continue
        candidates.append(candidate)
    return PageReading(
        candidates=tuple(candidates),
        states_wanted=tuple(
            c.campaign.campaign_id for c in candidates if c.campaign.campaign_id in heads.heads
        ),
        rejections=tuple(rejections),
        drift=tuple(notes),
        unknown_statuses=unknown_statuses,
        deferred=deferred,
        unchanged=tuple(same),
        stale=tuple(stale),
        listed_again=tuple(cid for cid, head in heads.heads.items() if head.missed_listings),
    )


def _read_records(
    records: Sequence[tuple[Entry, RawRecord]],
    dialect: Dialect,
    observed_at: datetime,
    limits: CycleLimits,
    rejections: list[Rejection],
) -> tuple[list[Candidate], list[DriftNote], int]:
    """Each record read, its drift notes, and how many had an unknown status; what was
    refused, quarantined or noted goes to ``rejections``."""
    read: list[Candidate] = []
    notes: list[DriftNote] = []
    unknown_statuses = 0
    for entry, raw in records:
        try:
            candidate, found = _read_one(entry, raw, dialect, observed_at, limits)
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
        except Exception as exc:  # noqa: BLE001 - a bug costs its record, never the page
            rejections.append(reader_error(dialect.name, exc, entry.campaign_id, raw))
            continue
        if isinstance(candidate, Rejection):  # poison: quarantined before it is read
            rejections.append(candidate)
            continue
        read.append(candidate)
        notes.extend(found)
        campaign = candidate.campaign
        if campaign.status is Status.UNKNOWN:
            unknown_statuses += 1
            rejections.append(
                Rejection(
                    kind=RejectionKind.UNKNOWN_STATUS,
                    reason=f"status {campaign.status_raw!r} is not in the {dialect.name} "
                    "status table; the campaign is stored with status 'unknown'",
                    campaign_id=campaign.campaign_id,
                    detail={"status_raw": campaign.status_raw},
                )
            )
    return read, notes, unknown_statuses


def _read_one(
    entry: Entry, raw: RawRecord, dialect: Dialect, observed_at: datetime, limits: CycleLimits
) -> tuple[Candidate | Rejection, list[DriftNote]]:
    """One record's quarantine, or its campaign and drift notes; raises what the
    reading rules raise (NormalizationError, or anything else: a bug)."""
    poison = find_poison(raw, max_string_chars=limits.max_string_chars, max_depth=limits.max_depth)
    if poison is not None:
        where, what = poison
        return Rejection(
            kind=RejectionKind.UNSTORABLE,
            reason=f"{where}: {what}" if where else what,
            field=where,
            campaign_id=entry.campaign_id,
            raw=raw,
        ), []
    campaign = dialect.normalize(raw, observed_at=observed_at)
    # The list item's fingerprint decides the next skip; the record's, the version.
    merged = raw is not entry.raw or entry.fingerprint is None
    fingerprint = campaign.fingerprint() if merged else entry.fingerprint
    assert fingerprint is not None
    notes = drift_notes(
        raw,
        campaign.campaign_id,
        enums=dialect.enums,
        documented_keys=dialect.documented_keys or frozenset(raw),
    )
    return Candidate(campaign, fingerprint, entry.fingerprint), notes


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
