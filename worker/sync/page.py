"""One batch of listed records (see ``worker.sync.batches``), from raw records to one write
transaction: the planner's shell.

Every decision is the pure planner's (:mod:`worker.sync.planner`); this does the
I/O between its stages, in this order:

1. read the stored heads of the page's campaigns (one query; none when the target's
   digest table knew every record unchanged, see ``worker.sync.listing``);
2. fetch the details of what is not known unchanged (providers whose list shows less);
3. read the drift values the target already reported (once per target), and the
   stored versions of what changed (one query, when something did);
4. write the plan in one transaction fenced by the lease. A page with nothing to
   store (the common case: nothing changed) opens no transaction at all.

Stages 1 and 2 are :meth:`PageStep.gather`: where the list shows less than the
details (``reads_ahead``), ``worker.sync.batches`` runs them as entries are listed
and hands the batch's plan what they read.

The pure stages that read and diff the records (:func:`read_page`,
:func:`plan_page`: tens of milliseconds of CPU for a thousand records) run in a
worker thread, on values no other task changes (the secrets and the reported drift
values go in as snapshots): meanwhile the event loop keeps serving the write of the
batch before, the pages fetched ahead and the lease. The GIL still runs one of them
at a time; what is won is that a statement's answer or a response is taken up
within the interpreter's switch interval (5 ms), not after the whole batch.

What the store confirmed (heads it answered unchanged, changes it applied) goes
to the digest table once known, so the next cycle skips those records.

Nothing here raises for one bad record; a failed write raises (StorageError,
LeaseLost) and the transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import anyio
from anyio import to_thread

from worker.domain.campaign import TargetKey
from worker.domain.drift import DriftNote
from worker.domain.records import Rejection
from worker.ports import Dialect, Lease, PageHeads, Source, Store, Written
from worker.sync.confirmed import confirm_unchanged, confirm_written
from worker.sync.digests import DigestTable
from worker.sync.drift_reports import DriftReports
from worker.sync.listing import Entry
from worker.sync.planner import (
    Gathered,
    PagePlan,
    entries_to_read,
    heads_wanted,
    plan_page,
    read_page,
    stale_behind_newer_page,
)
from worker.sync.policy import CycleLimits

__all__ = ["HEAD_READS_AT_ONCE", "PageStep", "PendingWrite", "StoredPage"]

# Entries read ahead (``PageStep.reads_ahead``) read their heads in groups, one group
# at a time per target: with the batch being written and the stored versions a plan
# reads, a target holds at most three database connections (each read takes a few
# milliseconds; the groups' detail requests still overlap).
HEAD_READS_AT_ONCE = 1


@dataclass(frozen=True, slots=True)
class StoredPage:
    """What one page wrote, set aside, deferred and refused as stale (with the reasons)."""

    written: Written
    rejections: tuple[Rejection, ...]
    stale: tuple[str, ...] = ()
    deferred: int = 0
    drift: tuple[DriftNote, ...] = ()
    unknown_statuses: int = 0


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """A page's plan with something to store, and what its transaction counts."""

    plan: PagePlan
    entries: Sequence[Entry]
    observed_at: datetime
    records: int
    pages: int


class PageStep:
    """The page step of one cycle of one target.

    Args:
        source: the provider's HTTP (details); dialect: its reading rules.
        lease_now: lease time, read when a page's transaction opens.
        full_refresh: every campaign's detail is read this cycle, changed or not.
        secrets: blanked out of every detail record (``domain.scrub``).
        digests: the target's table, told what the store confirmed.
    """

    def __init__(
        self,
        store: Store,
        lease: Lease,
        source: Source,
        dialect: Dialect,
        limits: CycleLimits,
        drift: DriftReports,
        lease_now: Callable[[], datetime],
        *,
        full_refresh: bool = False,
        secrets: Collection[str] = (),
        digests: DigestTable | None = None,
    ) -> None:
        self._store = store
        self._lease = lease
        self._source = source
        self._dialect = dialect
        self._limits = limits
        self._drift = drift
        self._lease_now = lease_now
        self._full_refresh = full_refresh
        self._secrets = secrets
        self._digests = digests
        # Pages and records read since the last page that wrote (see ``run``).
        self._unwritten_pages = 0
        self._unwritten_records = 0
        self._head_reads = anyio.CapacityLimiter(HEAD_READS_AT_ONCE)

    @property
    def target(self) -> TargetKey:
        return self._lease.target

    async def prepare(
        self,
        entries: Sequence[Entry],
        rejections: Sequence[Rejection],
        *,
        observed_at: datetime,
        records: int,
        pages: int = 1,
        gathered: Gathered | None = None,
    ) -> StoredPage | PendingWrite:
        """Stages 1-3 for one batch (or chunk) of entries: the plan, as a write to make
        (:meth:`write`), or what was set aside when there is nothing to store.
        ``gathered``: stages 1 and 2, done already (:meth:`gather`)."""
        plan = await self._plan(entries, rejections, observed_at, gathered)
        if not plan.writes:
            # Nothing to store: no transaction at all. The page still counts, in the
            # next page that writes and in the run's totals when the cycle finishes.
            self._unwritten_pages += pages
            self._unwritten_records += records
            return StoredPage(
                written=Written(),
                rejections=(),
                stale=plan.stale,
                unknown_statuses=plan.unknown_statuses,
            )
        pending = PendingWrite(
            plan,
            entries,
            observed_at,
            records=records + self._unwritten_records,
            pages=pages + self._unwritten_pages,
        )
        self._unwritten_pages = self._unwritten_records = 0
        return pending

    async def write(self, pending: PendingWrite) -> StoredPage:
        """Stage 4: one transaction fenced by the lease; then tell the digest table
        and the drift reports what committed."""
        plan, observed_at = pending.plan, pending.observed_at
        stale = plan.stale
        changes = plan.changes
        async with self._store.page(
            self._lease, self._lease_now(), observed_at=observed_at
        ) as writer:
            if writer.newer_page_at is not None:
                stale += stale_behind_newer_page(changes, observed_at, writer.newer_page_at)
                changes = ()
            written = await writer.write(
                changes,
                plan.rejections,
                records=pending.records,
                pages=pending.pages,
                listed_again=plan.listed_again,
                drift=plan.drift_events,
                deferred=plan.deferred,
            )
        if not written.dropped and self._digests is not None:
            confirm_written(self._digests, self._dialect, pending.entries, changes)
        self._drift.committed(plan.drift)
        return StoredPage(
            written=written,
            rejections=plan.rejections,
            stale=stale,
            deferred=plan.deferred,
            drift=plan.drift,
            unknown_statuses=plan.unknown_statuses,
        )

    @property
    def reads_ahead(self) -> bool:
        """Whether a page's stored heads and details are read as soon as it is listed
        (:meth:`gather`), not when its batch is written: the provider's list shows less
        than its details, so a batch waits for detail requests."""
        return self._dialect.lists_less

    async def gather(self, entries: Sequence[Entry], observed_at: datetime) -> Gathered:
        """Stages 1 and 2 for ``entries``: their stored heads (at most
        ``HEAD_READS_AT_ONCE`` reads at a time) and the details of those read."""
        target, dialect, full = self._lease.target, self._dialect, self._full_refresh
        wanted = heads_wanted(entries, dialect, full_refresh=full)
        heads = PageHeads({})
        if wanted.ids:
            async with self._head_reads:
                heads = await self._store.heads(target, wanted.ids, list_hashes=wanted.list_hashes)
        to_read = entries_to_read(entries, heads, dialect, observed_at, full_refresh=full)
        if self._digests is not None:
            confirm_unchanged(self._digests, dialect, entries, heads, to_read.unchanged)
        raws = [e.raw for e in to_read.entries]
        details = await self._source.details(raws) if raws else ()
        return Gathered(heads, to_read, tuple(details))

    async def _plan(
        self,
        entries: Sequence[Entry],
        rejections: Sequence[Rejection],
        observed_at: datetime,
        gathered: Gathered | None,
    ) -> PagePlan:
        """Read what the planner needs, stage by stage, and return its plan."""
        target, dialect = self._lease.target, self._dialect
        if gathered is None:
            gathered = await self.gather(entries, observed_at)
        to_read, details, heads = gathered.to_read, gathered.details, gathered.heads
        reading = await to_thread.run_sync(
            partial(
                read_page,
                to_read,
                details,
                heads,
                dialect,
                observed_at,
                limits=self._limits,
                listing_rejections=rejections,
                secrets=tuple(self._secrets),  # a snapshot: the collection may grow meanwhile
            )
        )
        # A snapshot: a write committing meanwhile adds to the reported values.
        known_drift = {
            name: frozenset(values) for name, values in (await self._drift.known()).items()
        }
        wanted_states = reading.states_wanted
        states = await self._store.load(target, wanted_states) if wanted_states else {}
        return await to_thread.run_sync(
            partial(
                plan_page,
                reading,
                states,
                dialect=dialect,
                target=target,
                observed_at=observed_at,
                limits=self._limits,
                known_drift=known_drift,
            )
        )
