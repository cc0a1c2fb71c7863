"""The small contracts between the pipeline and its adapters.

Providers, storage and clocks are implemented elsewhere; the pipeline and the
composition root only know these Protocols.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from worker.domain.campaign import Campaign, TargetKey
from worker.domain.diff import Change, StoredState
from worker.domain.records import Rejection

__all__ = ["CampaignStore", "Clock", "PageWriter", "Provider", "RawRecord", "RunSummary"]

RawRecord = Mapping[str, Any]


class Clock(Protocol):
    """A source of the current time; injected so tests and simulators control it."""

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...


class Provider(Protocol):
    """A source of campaigns from one upstream API version, for one account."""

    name: ClassVar[str]
    id_field: ClassVar[str]  # raw key of the campaign id, to label quarantined records

    @property
    def target(self) -> TargetKey:
        """The provider account this adapter reads."""
        ...

    def pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        """Yield raw records page by page, holding one page in memory at a time.

        Raises:
            ProviderUnavailable: after retries, for transient failures.
            ProviderRejected: for permanent ones (ProviderAuthError for 401/403).
        """
        ...

    def normalize(self, raw: RawRecord, *, observed_at: datetime) -> Campaign:
        """Turn one raw record into a Campaign. Pure.

        ``observed_at`` is the poll time; providers whose status depends on the
        clock (VOXO's READY) derive it from this, never from a clock read.

        Raises:
            NormalizationError: naming the field and value at fault.
        """
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """What one sync cycle of one target did, as recorded in ``sync_runs``."""

    status: str  # succeeded | failed
    pages: int = 0
    records: int = 0
    changed: int = 0
    events: int = 0
    rejected: int = 0
    error: str | None = None


class PageWriter(Protocol):
    """One page's transaction: read the stored versions, then write the changes."""

    async def load(self, campaign_ids: Sequence[str]) -> Mapping[str, StoredState]:
        """Stored current versions of these campaigns, in one query; absent ids are new."""
        ...

    async def write(self, changes: Sequence[Change], rejections: Sequence[Rejection]) -> int:
        """Upsert current rows, close and add history, insert events, note rejections.

        Idempotent for events (deterministic ids). Sends ``pg_notify`` when events
        were inserted. Returns the number of events inserted.
        """
        ...


class CampaignStore(Protocol):
    """Durable state: current campaigns, history, the event outbox and run records."""

    async def start_run(self, target: TargetKey, started_at: datetime) -> int:
        """Record the start of a cycle; returns the run id."""
        ...

    def page(self, target: TargetKey, run_id: int) -> AbstractAsyncContextManager[PageWriter]:
        """Open one page's transaction, serialized per target across replicas.

        Commits on normal exit and rolls back on error; raises StorageError.
        """
        ...

    async def finish_run(self, run_id: int, finished_at: datetime, summary: RunSummary) -> None:
        """Record how a cycle ended."""
        ...
