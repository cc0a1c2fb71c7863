"""The page planner: what one page of a listing means against what is stored. Pure.

No I/O, no clock reads, no awaits: plain values in, frozen batches out. The shell
(:mod:`worker.sync.page`) does the I/O between the four stages:

1. :func:`heads_wanted`: which stored heads to read, with each campaign's list-item
   fingerprint so the store can answer "unchanged" for those it need not return.
2. :func:`entries_to_read`: what is known unchanged from its list item alone (the
   same fingerprint; a status read against the clock, VOXO's ``READY``, read again
   from the stored dates), and what is read (its detail fetched, where the list
   shows less). A full detail refresh reads everything.
3. :func:`read_page`: defer a campaign whose detail failed, or answered 404 while
   it is stored (its stored state is kept this cycle); quarantine poison and any
   record the reading rules refuse or raise on (one record, never the page);
   normalize the rest, note schema drift and unknown statuses; drop unchanged and
   stale observations. Its ``states_wanted`` are the stored versions the diff needs.
4. :func:`plan_page`: the schema drift to report (once per value, up to a cap),
   the new versions with their events (:func:`worker.domain.diff.diff`), and all
   the store writes for the page, in one :class:`PagePlan`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime

from worker.domain.campaign import TargetKey
from worker.domain.diff import Change, StoredState, diff, known_unchanged
from worker.domain.drift import OVERFLOW, DriftNote, drift_event
from worker.domain.events import ChangeEvent
from worker.domain.records import Rejection, RejectionKind, reader_error
from worker.domain.timestamps import to_iso8601
from worker.ports import Dialect, PageHeads, RawRecord
from worker.sync.listing import Entry
from worker.sync.policy import CycleLimits
from worker.sync.reading import Candidate, Gathered, PageReading, ToRead, read_page

__all__ = [
    "Candidate",
    "Gathered",
    "HeadsWanted",
    "PagePlan",
    "PageReading",
    "ToRead",
    "entries_to_read",
    "fresh_drift",
    "heads_wanted",
    "plan_page",
    "read_page",
    "reads_clock",
    "stale_behind_newer_page",
]


@dataclass(frozen=True, slots=True)
class HeadsWanted:
    """The ids whose stored heads a page needs, and their list-item fingerprints in the
    same order (``None`` for one whose status is read against the clock); no
    fingerprints at all on a full refresh, which skips nothing."""

    ids: tuple[str, ...]
    list_hashes: tuple[str | None, ...] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PagePlan:
    """Everything one page writes, and what the cycle reports of it.

    Attributes:
        changes: new versions with their events (``previous`` is ``None`` for a new
            campaign); the store writes each with its history row.
        rejections: what goes to ``sync_errors``: the quarantined, the deferred and
            the noted (unknown statuses), in the order they were found.
        listed_again: stored campaigns whose missed-listing count goes back to 0.
        drift: schema-drift values reported for the first time by this page, and
            ``drift_events`` their ``provider.schema_drift`` events.
        stale: observations not applied, each ``"campaign <id>: <why>"``.
        unchanged: ids that need nothing written.
        deferred: campaigns whose stored state is kept (their detail failed or 404).
        unknown_statuses: records read with a status outside the provider's table.
    """

    changes: tuple[Change, ...]
    rejections: tuple[Rejection, ...]
    listed_again: tuple[str, ...]
    drift: tuple[DriftNote, ...]
    drift_events: tuple[ChangeEvent, ...]
    stale: tuple[str, ...]
    unchanged: tuple[str, ...]
    deferred: int
    unknown_statuses: int

    @property
    def writes(self) -> bool:
        """Whether the page has anything to store; most pages of a quiet fleet do not."""
        return bool(
            self.changes or self.rejections or self.listed_again or self.drift or self.deferred
        )

    @property
    def new(self) -> tuple[Change, ...]:
        """The changes that discover a campaign (version 1)."""
        return tuple(c for c in self.changes if c.previous is None)

    @property
    def changed(self) -> tuple[Change, ...]:
        """The changes that follow a stored version."""
        return tuple(c for c in self.changes if c.previous is not None)

    @property
    def quarantined(self) -> tuple[Rejection, ...]:
        """The records set aside, not stored (counted as ``rejected``)."""
        return tuple(r for r in self.rejections if r.kind.quarantines)


def heads_wanted(
    entries: Sequence[Entry], dialect: Dialect, *, full_refresh: bool = False
) -> HeadsWanted:
    """The heads to read for ``entries`` (see :class:`HeadsWanted`)."""
    listed = [e for e in entries if e.campaign_id]
    ids = tuple(e.campaign_id for e in listed if e.campaign_id)
    if full_refresh:
        return HeadsWanted(ids, None)
    # A status read against the clock needs its head even when the item is the same.
    hashes = tuple(None if reads_clock(dialect, e.raw) else e.fingerprint for e in listed)
    return HeadsWanted(ids, hashes)


def entries_to_read(
    entries: Sequence[Entry],
    heads: PageHeads,
    dialect: Dialect,
    observed_at: datetime,
    *,
    full_refresh: bool = False,
) -> ToRead:
    """Split ``entries`` into those read and those known unchanged (see :class:`ToRead`)."""
    read: list[Entry] = []
    same: list[str] = []
    for entry in entries:
        cid = entry.campaign_id
        if cid is not None and (
            cid in heads.unchanged
            or (not full_refresh and _known_unchanged(heads, entry, cid, dialect, observed_at))
        ):
            same.append(cid)
        else:
            read.append(entry)
    return ToRead(tuple(read), tuple(same))


def plan_page(
    reading: PageReading,
    states: Mapping[str, StoredState],
    *,
    dialect: Dialect,
    target: TargetKey,
    observed_at: datetime,
    limits: CycleLimits,
    known_drift: Mapping[str, AbstractSet[str]],
) -> PagePlan:
    """Diff the candidates of ``reading`` against ``states`` (absent: new) into a plan.

    ``known_drift`` holds the drift values the target already reported, by field.
    An unknown-status note is kept only for a value reported (now or before): past
    the cap, the one overflow event stands for the rest.
    """
    drift = fresh_drift(reading.drift, known_drift, cap=limits.max_drift_values)
    admitted = {(n.field, n.value) for n in drift}
    rejections = [
        r
        for r in reading.rejections
        if r.kind is not RejectionKind.UNKNOWN_STATUS
        or any(
            (status_raw := str(r.detail.get("status_raw"))) in known_drift.get(name, ())
            or (name, status_raw) in admitted
            for name in dialect.enums
        )
    ]
    changes: list[Change] = []
    same = list(reading.unchanged)
    for campaign, fingerprint, list_hash in reading.candidates:
        cid = campaign.campaign_id
        try:
            change = diff(
                states.get(cid), campaign, observed_at, fingerprint=fingerprint, list_hash=list_hash
            )
        except Exception as exc:  # noqa: BLE001 - a bug costs its record, never the page
            rejections.append(reader_error(dialect.name, exc, cid, campaign.raw))
            continue
        if change is None:
            same.append(cid)
        else:
            changes.append(change)
    return PagePlan(
        changes=tuple(changes),
        rejections=tuple(rejections),
        listed_again=reading.listed_again,
        drift=drift,
        drift_events=tuple(drift_event(target, note, observed_at) for note in drift),
        stale=reading.stale,
        unchanged=tuple(same),
        deferred=reading.deferred,
        unknown_statuses=reading.unknown_statuses,
    )


def fresh_drift(
    notes: Sequence[DriftNote], reported: Mapping[str, AbstractSet[str]], *, cap: int
) -> tuple[DriftNote, ...]:
    """The notes not yet ``reported``, at most ``cap`` values per field; past the cap,
    one overflow note per field stands for the rest."""
    fresh: list[DriftNote] = []
    taken: dict[str, set[str]] = {}
    for note in notes:
        known = reported.get(note.field, frozenset())
        pending = taken.setdefault(note.field, set())
        if {note.value, OVERFLOW} & (known | pending):
            continue
        if len(known) + len(pending) >= cap:  # ``known`` holds no OVERFLOW here
            fresh.append(DriftNote(field=note.field, value=OVERFLOW, campaign_id=""))
            pending.add(OVERFLOW)
            continue
        pending.add(note.value)
        fresh.append(note)
    return tuple(fresh)


def stale_behind_newer_page(
    changes: Sequence[Change], observed_at: datetime, newer_page_at: datetime
) -> tuple[str, ...]:
    """Why each change is dropped when the target already wrote a page fetched later."""
    newer = to_iso8601(newer_page_at)
    return tuple(
        f"campaign {change.campaign.campaign_id}: fetched at {to_iso8601(observed_at)}, "
        f"before a page already written (fetched at {newer})"
        for change in changes
    )


def reads_clock(dialect: Dialect, raw: RawRecord) -> bool:
    """Whether the record's status is read against the clock; ``True`` when its reading
    rules raise (then it is read whole, where a bug costs only its record)."""
    try:
        return dialect.reads_clock(raw)
    except Exception:  # noqa: BLE001 - read it whole: normalize quarantines a broken record
        return True


def _known_unchanged(
    heads: PageHeads, entry: Entry, campaign_id: str, dialect: Dialect, observed_at: datetime
) -> bool:
    head = heads.heads.get(campaign_id)
    if head is None or not known_unchanged(head, entry.fingerprint, clock_dependent=False):
        return False
    if not reads_clock(dialect, entry.raw):
        return True
    # Same list item, but its status is read against the clock: read it again, from
    # the stored dates (the same record has the same dates).
    try:
        return dialect.status_again(head, observed_at) is head.status
    except Exception:  # noqa: BLE001 - read it whole: normalize quarantines a broken record
        return False
