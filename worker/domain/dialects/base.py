"""What every dialect shares: the raw record's type and the rules most providers keep.

A dialect is one provider API's reading rules, pure: it never performs I/O and never
reads a clock (the poll time is passed in as ``observed_at``). It implements the
``Dialect`` protocol of ``worker.ports.provider``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar

from worker.domain.campaign import Status
from worker.domain.diff import StoredHead

__all__ = ["BaseDialect", "RawRecord"]

# One campaign as the provider's JSON shows it, before any reading: the same type as
# worker.ports.RawRecord (the domain does not import the ports).
RawRecord = Mapping[str, Any]


class BaseDialect:
    """The defaults: no status is read against the clock, and the list item is the record.

    A dialect names its provider (``name``), the raw key of its campaign id
    (``id_field``), its status table, and what the provider documents (``enums``,
    ``documented_keys``: anything else is schema drift); it implements ``normalize``.
    """

    __slots__ = ()

    name: ClassVar[str]
    id_field: ClassVar[str]
    status_table: ClassVar[Mapping[str, Status]]
    enums: ClassVar[Mapping[str, frozenset[str]]] = MappingProxyType({})
    documented_keys: ClassVar[frozenset[str] | None] = None

    def reads_clock(self, raw: RawRecord) -> bool:
        """No status is read against the clock, unless a provider says otherwise."""
        return False

    def status_again(self, head: StoredHead, observed_at: datetime) -> Status:
        """A status that does not read the clock stays what was stored."""
        return head.status

    def status_now(self, raw: RawRecord, observed_at: datetime) -> Status:
        """Only asked of a record that ``reads_clock``, which none does here."""
        raise NotImplementedError(f"{self.name} reads no status against the clock")

    @property
    def lists_less(self) -> bool:
        """The list item is the whole record, unless a provider says otherwise."""
        return False
