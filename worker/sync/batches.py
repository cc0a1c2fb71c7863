"""A cycle's listed records, stored in batches: planned here, written behind.

What a page's listing leaves to do (records not known unchanged, quarantined
ones) waits in a batch until it holds ``limits.write_chunk`` records, or its
first record has waited ``limits.batch_wait`` seconds (a timer: a stalled
provider holds nothing back), or the listing ends; with ``batch_wait`` 0 each
page is written alone. A batch counts as observed when the page of its first
record was, so a record may be stamped up to about ``batch_wait`` before its
own page. An unchanged cycle with a few changes writes them in a few
transactions, not one per page; batching delays an event by ``batch_wait`` at
most.

For a provider whose list shows less than its details (``PageStep.reads_ahead``),
the stored heads and details of each ``GATHER_FROM`` entries are read as soon as
they are listed (the rest when the batch is written), on a task of their own
(``page.HEAD_READS_AT_ONCE`` head reads at a time; the detail requests share the
provider's ``http.max_concurrency``): a batch's detail requests then overlap the
listing instead of starting when the batch is written.

Each batch is planned here and written by the cycle's write-behind task
(``worker.sync.write_behind``) while the next is listed and planned. A plan that
reports schema drift waits for its write: the next plan must know the values it
reported, so each is reported once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial

import anyio
from anyio.abc import TaskGroup

from worker.domain.records import Rejection
from worker.ports import RawRecord
from worker.sync.cycle_report import CycleTotals, report_page
from worker.sync.listing import Entry, Listing
from worker.sync.page import PageStep, PendingWrite, StoredPage
from worker.sync.reading import Gathered
from worker.sync.write_behind import Submit

__all__ = ["GATHER_FROM", "PageBatches"]

# Entries read ahead together (one head read, their details at once): enough to keep
# a provider's requests in flight, few enough to start while the listing goes on.
# Measured on VOXO (100 000 campaigns, 1 % changed, pages of about 100 items): one
# read per page cost 0.6 s more client CPU than the batch's one read.
GATHER_FROM = 16


class PageBatches:
    """One cycle's listed pages in batches, and its totals (see the module docstring)."""

    def __init__(
        self,
        step: PageStep,
        listing: Listing,
        totals: CycleTotals,
        *,
        write_chunk: int,
        wait: float,
        submit: Submit,
        secrets: Collection[str],
    ) -> None:
        self._step = step
        self._listing = listing
        self._totals = totals
        self._write_chunk = write_chunk
        self._wait = wait
        self._submit = submit
        self._secrets = secrets
        self._lock = anyio.Lock()
        self._entries: list[Entry] = []
        self._rejections: list[Rejection] = []
        self._pages = self._records = 0
        self.pages_taken = 0  # this cycle's, written or not
        self._observed_at: datetime | None = None  # the page of the batch's first record
        self._last_at: datetime | None = None  # the batch's last page
        self._opened = anyio.Event()  # set when the batch takes its first record
        self._generation = 0  # one more for every batch written
        self._gathering: list[_Gathering] = []  # the batch's entries read ahead
        self._ungathered: list[Entry] = []  # not yet: fewer than GATHER_FROM
        self._tasks: TaskGroup | None = None  # runs them (while ``running``)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[PageBatches]:
        """The batches with their timer running; a clean exit writes what the last batch
        holds. A failed timer write is raised here, unwrapped."""
        failure: list[Exception] = []
        async with anyio.create_task_group() as tg:
            if self._wait > 0:
                tg.start_soon(self.flush_when_due, failure, tg.cancel_scope)
            if self._step.reads_ahead:
                self._tasks = tg
            try:
                yield self
                await self.flush()
            except Exception as exc:  # noqa: BLE001 (raised below, outside the task group)
                failure.append(exc)
            self._tasks = None
            tg.cancel_scope.cancel()
        if failure:
            raise failure[0]

    async def add(self, observed_at: datetime, page: Sequence[RawRecord]) -> None:
        """Take one listed page; write the batch once it is full (or at once, with a
        ``batch_wait`` of 0)."""
        async with self._lock:
            entries, rejections = self._listing.take(page, observed_at=observed_at)
            self._totals.observed(observed_at)
            self._last_at = observed_at
            self._pages += 1
            self.pages_taken += 1
            self._records += len(page)
            if entries or rejections:
                if self._observed_at is None:
                    self._observed_at = observed_at
                    self._opened.set()
                self._entries += entries
                self._rejections += rejections
                if self._tasks is not None:
                    self._ungathered += entries
                    if len(self._ungathered) >= GATHER_FROM:
                        self._gather_ungathered()
            if len(self._entries) >= self._write_chunk or self._wait <= 0:
                await self._flush()

    async def flush(self) -> None:
        """Write what the batch holds now."""
        async with self._lock:
            await self._flush()

    async def flush_when_due(self, failure: list[Exception], scope: anyio.CancelScope) -> None:
        """Runs beside the listing: writes each batch ``batch_wait`` seconds after its
        first record came, if it is still held then."""
        try:
            while True:
                await self._opened.wait()
                generation = self._generation
                await anyio.sleep(self._wait)
                async with self._lock:
                    if generation == self._generation:
                        await self._flush()
        except Exception as exc:  # noqa: BLE001 (handed to running(), raised there)
            failure.append(exc)
            scope.cancel()

    async def _flush(self) -> None:
        """Plan the batch in transactions of ``write_chunk`` records and queue their
        writes (pages with nothing to do still count, in the next write)."""
        if not self._pages:
            return
        entries, rejections = self._entries, self._rejections
        if self._ungathered:
            self._gather_ungathered()
        gathering, self._gathering = self._gathering, []
        gathered = Gathered.joined([await g.result() for g in gathering]) if gathering else None
        observed_at = self._observed_at or self._last_at
        assert observed_at is not None  # a batch with pages has seen one
        counts = (self._pages, self._records)
        self._entries, self._rejections = [], []
        self._pages = self._records = 0
        self._observed_at = None
        self._opened = anyio.Event()
        self._generation += 1
        size = self._write_chunk
        for start in range(0, max(len(entries), 1), size):
            chunk = entries[start : start + size]
            pages, records = counts if start == 0 else (0, 0)
            own = gathered  # a batch of one chunk (the usual one) takes all of it
            if gathered is not None and len(chunk) < len(entries):
                own = gathered.part(chunk)
            prepared = await self._step.prepare(
                chunk,
                rejections if start == 0 else (),
                observed_at=observed_at,
                records=records,
                pages=pages,
                gathered=own,
            )
            if isinstance(prepared, StoredPage):
                self._tally(prepared, len(chunk), pages, records)
                continue
            written = anyio.Event()
            await self._submit(
                partial(self._write, prepared, len(chunk), (pages, records), written)
            )
            if prepared.plan.drift:
                await written.wait()

    def _gather_ungathered(self) -> None:
        assert self._tasks is not None  # while running
        assert self._observed_at is not None  # the batch has entries
        gathering, entries = _Gathering(), self._ungathered
        self._tasks.start_soon(gathering.run, self._step, entries, self._observed_at)
        self._gathering.append(gathering)
        self._ungathered = []

    async def _write(
        self, pending: PendingWrite, size: int, counts: tuple[int, int], written: anyio.Event
    ) -> None:
        self._tally(await self._step.write(pending), size, *counts)
        written.set()

    def _tally(self, stored: StoredPage, size: int, pages: int, records: int) -> None:
        written, totals = stored.written, self._totals
        totals.add(
            pages=pages,
            records=records,
            changed=written.changed,
            events=written.events,
            rejections=stored.rejections,
        )
        totals.stale += len(stored.stale) + written.dropped
        totals.deferred += stored.deferred
        report_page(self._step.target, size, stored, self._secrets)


class _Gathering:
    """Stages 1 and 2 (``PageStep.gather``) of a group of listed entries, run ahead of
    their batch's plan."""

    def __init__(self) -> None:
        self._done = anyio.Event()
        self._gathered: Gathered | None = None
        self._failure: Exception | None = None

    async def run(self, step: PageStep, entries: Sequence[Entry], observed_at: datetime) -> None:
        try:
            self._gathered = await step.gather(entries, observed_at)
        except Exception as exc:  # noqa: BLE001 (raised where the batch is planned)
            self._failure = exc
        finally:
            self._done.set()

    async def result(self) -> Gathered:
        await self._done.wait()
        if self._failure is not None:
            raise self._failure
        assert self._gathered is not None  # set before done, unless it failed
        return self._gathered
