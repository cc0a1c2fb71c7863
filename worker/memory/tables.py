"""The in-memory store's tables: one frozen row type per PostgreSQL table, and transactions.

Each table is a dict of frozen rows by key; a change replaces a row whole. Rows
carry what the PostgreSQL columns carry (``worker.storage.tables``), as typed
values: a campaign row holds the stored :class:`Campaign` itself.

A :class:`Transaction` stages its writes and applies them all at commit, so a
reader outside it never sees a half-written page, and a transaction that fails
leaves nothing behind. Like PostgreSQL's sequences, ids taken inside a
transaction that fails are not given back. A transaction on a target holds that
target's lock until it ends, as a PostgreSQL transaction holds the target's row
lock: a claim waits for a page being written, and a page for a claim.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Hashable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import anyio

from worker.domain.campaign import Campaign, CampaignKey, TargetKey
from worker.domain.diff import StoredHead
from worker.domain.events import ChangeEvent
from worker.domain.quarantine import KeptRejection

__all__ = [
    "CampaignRow",
    "ErrorRow",
    "EventRow",
    "HistoryRow",
    "MemoryState",
    "RunRow",
    "Table",
    "TargetRow",
    "Transaction",
]

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetRow:
    """A target's lease, newest observation and schedule (``sync_targets``)."""

    lease_owner: str | None = None
    lease_token: int = 0
    lease_expires_at: datetime | None = None
    last_observed_at: datetime | None = None
    last_full_refresh_at: datetime | None = None
    interval_seconds: float | None = None
    next_due_at: datetime | None = None
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_run_id: int | None = None
    takeovers: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRow:
    """One sync cycle of one target (``sync_runs``)."""

    id: int
    target: TargetKey
    started_at: datetime
    status: str
    owner: str | None = None
    lease_token: int | None = None
    finished_at: datetime | None = None
    pages: int = 0
    records: int = 0
    changed: int = 0
    events: int = 0
    rejected: int = 0
    vanished: int = 0
    deferred: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignRow:
    """The current version of a campaign (``campaigns``)."""

    campaign: Campaign
    version: int
    content_hash: str
    first_seen_at: datetime
    last_changed_at: datetime
    vanished_at: datetime | None = None
    missed_listings: int = 0
    list_hash: str | None = None

    def head(self) -> StoredHead:
        """What decides whether a fresh record of this campaign changed."""
        return StoredHead(
            version=self.version,
            content_hash=self.content_hash,
            status=self.campaign.status,
            status_derived=self.campaign.status_derived,
            observed_at=self.last_changed_at,
            provider_updated_at=self.campaign.provider_updated_at,
            vanished_at=self.vanished_at,
            missed_listings=self.missed_listings,
            list_hash=self.list_hash,
            scheduled_start_at=self.campaign.scheduled_start_at,
            scheduled_end_at=self.campaign.scheduled_end_at,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryRow:
    """One version of a campaign (``campaign_history``); ``valid_to`` is None on the current."""

    id: int
    campaign: Campaign
    version: int
    content_hash: str
    valid_from: datetime
    valid_to: datetime | None = None
    vanished_at: datetime | None = None  # set on the version that records a vanish


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRow:
    """One event in the outbox (``campaign_events``); ``id`` is its outbox position."""

    id: int
    event: ChangeEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorRow:
    """One distinct rejection and how often it was seen (``sync_errors``)."""

    id: int
    target: TargetKey
    kept: KeptRejection
    first_seen_at: datetime
    last_seen_at: datetime
    occurrences: int
    last_run_id: int | None


class Table(Generic[K, R]):
    """One table's committed rows, by key."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: dict[K, R] = {}


class Transaction:
    """Writes staged on top of the committed rows until :meth:`commit`."""

    def __init__(self) -> None:
        self._staged: dict[Table[Any, Any], dict[Any, Any]] = {}

    def get(self, table: Table[K, R], key: K) -> R | None:
        """The row as this transaction sees it (its own writes included), or None."""
        staged = self._staged.get(table)
        if staged is not None and key in staged:
            row: R = staged[key]
            return row
        return table.rows.get(key)

    def put(self, table: Table[K, R], key: K, row: R) -> None:
        """Insert or replace a row, visible to others once committed."""
        self._staged.setdefault(table, {})[key] = row

    def scan(self, table: Table[K, R]) -> Iterator[tuple[K, R]]:
        """Every row as this transaction sees it."""
        staged = self._staged.get(table, {})
        yield from staged.items()
        yield from ((k, row) for k, row in table.rows.items() if k not in staged)

    def commit(self) -> None:
        """Apply every staged write."""
        for table, rows in self._staged.items():
            table.rows.update(rows)
        self._staged.clear()


class MemoryState:
    """Everything an in-memory store holds; its tables are read directly by tests.

    ``history`` is keyed by (campaign, version); ``open_versions`` is the version
    of each campaign's open history row (None once closed), the in-memory
    counterpart of the unique index that allows one open row per campaign.
    ``events`` is keyed by event id (unique) and ``errors`` by fingerprint.
    """

    def __init__(self) -> None:
        self.targets: Table[TargetKey, TargetRow] = Table()
        self.runs: Table[int, RunRow] = Table()
        self.campaigns: Table[CampaignKey, CampaignRow] = Table()
        self.history: Table[tuple[CampaignKey, int], HistoryRow] = Table()
        self.open_versions: Table[CampaignKey, int | None] = Table()
        self.events: Table[str, EventRow] = Table()
        self.errors: Table[str, ErrorRow] = Table()
        self._sequences: dict[str, Iterator[int]] = {}
        self._locks: dict[TargetKey, anyio.Lock] = {}

    def next_id(self, sequence: str) -> int:
        """The next value of a sequence (1, 2, 3 …); never given back."""
        return next(self._sequences.setdefault(sequence, itertools.count(1)))

    def locked(self, target: TargetKey) -> bool:
        """Whether a transaction on ``target`` is open."""
        lock = self._locks.get(target)
        return lock is not None and lock.locked()

    @asynccontextmanager
    async def transaction(self, target: TargetKey) -> AsyncIterator[Transaction]:
        """A transaction holding ``target``'s lock; commits on normal exit, else discards."""
        lock = self._locks.setdefault(target, anyio.Lock())
        async with lock:
            tx = Transaction()
            yield tx
            tx.commit()

    def outbox(self) -> list[EventRow]:
        """The stored events in outbox order."""
        return sorted(self.events.rows.values(), key=lambda row: row.id)
