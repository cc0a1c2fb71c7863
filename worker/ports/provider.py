"""The contracts of a provider: its HTTP source, its pure reading rules (its dialect), and the pair.

docs/providers.md holds the facts each dialect encodes. The sync core reads pages and details
through a :class:`Source` and decides what a record means through a :class:`Dialect`; the
composition root hands it both as one :class:`Provider`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from worker.domain.campaign import Campaign, Status, TargetKey
from worker.domain.diff import StoredHead

__all__ = ["Detail", "Dialect", "Provider", "RawRecord", "Source"]


RawRecord = Mapping[str, Any]


class Dialect(Protocol):
    """One provider API's reading rules: pure, no I/O and no clock reads.

    Implemented in ``worker.domain.dialects``, one instance per target.
    """

    name: ClassVar[str]
    id_field: ClassVar[str]  # raw key of the campaign id, read before normalizing
    status_table: ClassVar[Mapping[str, Status]]  # documented raw status -> Status
    # What the provider's documentation lists (docs/providers.md 5.5): enum fields and their
    # values, and the top-level keys of a record; anything else is schema drift.
    enums: ClassVar[Mapping[str, frozenset[str]]]
    documented_keys: ClassVar[frozenset[str] | None]

    def reads_clock(self, raw: RawRecord) -> bool:
        """True when normalize reads this record's status against ``observed_at``
        (VOXO's ``READY``): its status is read again every cycle, even unchanged."""
        ...

    def status_again(self, head: StoredHead, observed_at: datetime) -> Status:
        """The status at ``observed_at`` of a stored campaign whose record is unchanged
        and ``reads_clock``, from its stored head alone (no normalizing)."""
        ...

    def status_now(self, raw: RawRecord, observed_at: datetime) -> Status:
        """The status ``normalize`` reads at ``observed_at`` for a record that
        ``reads_clock``, from the fields it depends on alone (the listing's unchanged
        check). Raises what ``normalize`` would for those fields."""
        ...

    @property
    def lists_less(self) -> bool:
        """True when the list shows less than the detail (``details`` reads more)."""
        ...

    def normalize(self, raw: RawRecord, *, observed_at: datetime) -> Campaign:
        """Turn one raw record into a Campaign. Pure.

        ``observed_at`` is the poll time; providers whose status depends on the
        clock (VOXO's READY) derive it from this, never from a clock read.

        Raises:
            NormalizationError: naming the field and value at fault.
        """
        ...


class Source(Protocol):
    """One provider account's HTTP: pages of raw records and their details.

    Implemented in ``worker.providers``, one instance per target.
    """

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

    def listing(self) -> AbstractAsyncContextManager[AsyncIterator[Sequence[RawRecord]]]:
        """The pages of one listing, as :meth:`pages` yields them, with any list requests
        sent ahead owned by this context. Enter and leave it in one task; the pages may
        be iterated from another (the sync core's prefetch task)."""
        ...

    @property
    def pages_ahead(self) -> int:
        """How many list requests :meth:`listing` may send before the page in hand is
        handed on (0: one page at a time); the sync core dates pages by it."""
        ...

    async def details(self, items: Sequence[RawRecord]) -> Sequence[Detail]:
        """The full record of each listed item, for providers whose list shows less.

        Called only for items that are new or whose list item changed. Returns one
        Detail per item, in order; never raises for one campaign's failure (that
        Detail carries it). Providers without a detail endpoint return the items.
        """
        ...


@dataclass(frozen=True, slots=True)
class Provider:
    """A provider as the sync core uses it: where its records come from and how they read.

    Built per target by ``worker.runtime.targets.provider_for``.
    """

    source: Source
    dialect: Dialect


@dataclass(frozen=True, slots=True, kw_only=True)
class Detail:
    """What a detail request gave for one listed campaign.

    Attributes:
        record: the record to normalize (the list item merged with its detail), or
            ``None`` when the detail failed.
        failure: why the detail failed after retries; the campaign's stored state is
            kept for this cycle.
        missing: the provider answered 404 for a campaign its list still shows.
    """

    record: RawRecord | None
    failure: str | None = None
    missing: bool = False
