"""The contracts of the stores a sync cycle uses: leases, runs and campaigns; and the clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from worker.domain.campaign import TargetKey
from worker.domain.diff import Change, StoredHead, StoredState
from worker.domain.events import ChangeEvent
from worker.domain.records import Rejection

__all__ = [
    "RUN_STATUSES",
    "CampaignReader",
    "CampaignStore",
    "Claim",
    "Clock",
    "Lease",
    "LeaseHeld",
    "LeaseStore",
    "NotDue",
    "PageHeads",
    "PageWriter",
    "RunSummary",
    "Store",
    "Written",
]


class Clock(Protocol):
    """A source of the current time; injected so tests and simulators control it."""

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...


RUN_STATUSES = (
    "running",
    "succeeded",
    "partial",  # every page stored, but some campaigns' details failed (``deferred``)
    "failed",
    "canceled",
    "superseded",
    "abandoned",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """What one sync cycle of one target did, as recorded in ``sync_runs``.

    ``status`` is one of :data:`RUN_STATUSES` once recorded. Two more values are
    returned but never recorded, because no cycle ran: ``busy`` (another worker
    holds the target's lease; ``error`` says who) and ``not_due`` (this interval's
    cycle already ran).
    """

    status: str
    pages: int = 0
    records: int = 0
    changed: int = 0
    events: int = 0
    rejected: int = 0
    vanished: int = 0
    stale: int = 0
    deferred: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """The right to write one target, held by one worker for one cycle.

    Attributes:
        token: the fencing token; it grows on every claim, so a writer whose
            lease was taken over is refused by every later page transaction.
        run_id: the ``sync_runs`` row of this cycle.
        ttl: seconds the lease lasts unless renewed.
        took_over_from: the owner whose lease had expired, when this claim took
            the target over from a worker that stopped renewing it.
    """

    target: TargetKey
    owner: str
    token: int
    run_id: int
    ttl: float
    took_over_from: str | None = None
    # When the last cycle that read every campaign's detail succeeded (lease clock).
    last_full_refresh_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseHeld:
    """Another worker holds the target's lease."""

    owner: str
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class NotDue:
    """The target's cycle for this interval already ran."""

    due_at: datetime


Claim = Lease | LeaseHeld | NotDue


@dataclass(frozen=True, slots=True, kw_only=True)
class Written:
    """What one page transaction stored."""

    changed: int = 0  # new versions applied
    events: int = 0  # events inserted
    dropped: int = 0  # changes refused because their version was no longer the stored one
    event_types: Mapping[str, int] = field(default_factory=dict)  # events inserted, by type


@dataclass(frozen=True, slots=True)
class PageHeads:
    """What is stored of one page's campaigns (see ``CampaignReader.heads``).

    ``unchanged`` holds stored campaigns known unchanged from their list item
    alone: nothing more of them is read. ``heads`` holds the other stored ones.
    """

    heads: Mapping[str, StoredHead]
    unchanged: frozenset[str] = frozenset()

    def __contains__(self, campaign_id: object) -> bool:
        return campaign_id in self.unchanged or campaign_id in self.heads


class PageWriter(Protocol):
    """One page's transaction, fenced by the target's lease.

    ``newer_page_at`` is set when the page was fetched before the newest page the
    target already wrote (when that one was fetched): this page is stale.
    """

    newer_page_at: datetime | None

    async def write(
        self,
        changes: Sequence[Change],
        rejections: Sequence[Rejection],
        *,
        records: int,
        pages: int = 1,
        listed_again: Sequence[str] = (),
        drift: Sequence[ChangeEvent] = (),
        deferred: int = 0,
    ) -> Written:
        """Store new versions, their history and events, and note rejections.

        A change is applied only if the stored version is still the one it was
        computed from; otherwise nothing of it is written (no history row closed,
        no event). ``listed_again`` are campaigns whose missed-listing count goes
        back to 0; ``drift`` are schema-drift events (inserted once by id).
        Adds this page to the run's counters. Sends ``pg_notify`` when events
        were inserted.
        """
        ...

    async def miss(
        self, campaign_ids: Sequence[str], *, listed_at: datetime, misses_to_vanish: int
    ) -> Written:
        """Count one complete listing without these stored campaigns; vanish those due."""
        ...


class LeaseStore(Protocol):
    """Leases and run records: one writer per target, and what each cycle did."""

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
        """Take the target's lease and record a ``running`` run, in one transaction.

        Both clocks are read once the target's row is locked, so a claim that waited
        for it counts for the interval slot it took effect in: ``lease_clock`` gives
        lease time (expiry, interval slots), ``clock`` the run's ``started_at``
        (observation time).

        Refused while another owner's lease is unexpired (:class:`LeaseHeld`), or,
        unless ``force``, when this interval's cycle already ran (:class:`NotDue`).
        The owner's own unexpired lease (left by a cycle of its that could not
        release it) is taken back at once. Runs of the target still ``running``
        under a lease taken back or over are closed as ``abandoned``. Raises
        StorageError.
        """
        ...

    async def renew(self, lease: Lease, now: datetime) -> bool:
        """Extend the lease by its ttl; False when it was taken over."""
        ...

    async def finish(
        self,
        lease: Lease,
        finished_at: datetime,
        summary: RunSummary,
        *,
        observed_at: datetime | None = None,
        full_refresh_at: datetime | None = None,
    ) -> RunSummary:
        """Record how the cycle ended and release the lease (if still held).

        ``observed_at``, when the cycle's newest page was fetched, moves the
        target's newest observation forward (the stale rule), written or not.
        ``full_refresh_at``: this cycle read every detail, begun then; recorded as
        the target's last full refresh if the cycle succeeded.

        Returns the summary as recorded: ``superseded`` when the lease was taken
        over, even if no page noticed.
        """
        ...


class CampaignReader(Protocol):
    """What a cycle reads of the stored campaigns (outside its write transactions)."""

    async def heads(
        self,
        target: TargetKey,
        campaign_ids: Sequence[str],
        *,
        list_hashes: Sequence[str | None] | None = None,
    ) -> PageHeads:
        """The stored heads of these campaigns, in one query; absent ids are new.

        With ``list_hashes`` (each id's list-item fingerprint, in order), the
        campaigns whose stored list item is that one, not vanished and with no
        missed listings, come back in ``unchanged`` only.
        """
        ...

    async def load(
        self, target: TargetKey, campaign_ids: Sequence[str]
    ) -> Mapping[str, StoredState]:
        """The stored current versions of these campaigns in full, in one query."""
        ...

    async def listed_ids(self, target: TargetKey, *, after: str, limit: int) -> Sequence[str]:
        """Ids of the target's stored, not vanished campaigns after ``after``, in order."""
        ...

    async def count_live(self, target: TargetKey) -> int:
        """How many of the target's stored campaigns are not vanished (what
        ``listed_ids`` would give in all). One query."""
        ...

    async def list_digests(
        self, target: TargetKey, *, after: str, limit: int
    ) -> Sequence[tuple[str, str]]:
        """(id, first 16 hex digits of its list hash, mixed with the status where that is
        derived: ``domain.diff.clocked_list_hash``) of the target's campaigns after ``after``
        in id order that ``heads`` would find unchanged (not vanished, no missed listing)."""
        ...

    async def known_drift(self, target: TargetKey) -> Mapping[str, frozenset[str]]:
        """The schema-drift values already reported for ``target``, by field."""
        ...


class CampaignStore(Protocol):
    """Durable state: current campaigns, history and the event outbox."""

    def page(
        self, lease: Lease, now: datetime, *, observed_at: datetime | None = None
    ) -> AbstractAsyncContextManager[PageWriter]:
        """Open one page's transaction, fenced by ``lease`` and renewing it.

        ``observed_at`` is when the page was fetched; it advances the target's
        newest observation (see ``PageWriter.newer_page_at``).

        Commits on normal exit and rolls back on error. Raises LeaseLost (nothing
        is written) when the lease was taken over, StorageError otherwise.
        """
        ...


class Store(LeaseStore, CampaignReader, CampaignStore, Protocol):
    """The storage ports, as the pipeline uses them."""
