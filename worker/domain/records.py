"""Typed reads from a provider's raw JSON record, with errors that name the field.

Adapters read every field through a :class:`Record` so a bad record fails with
``NormalizationError("total_calls", "12", "expected integer, got str")`` rather
than a ``KeyError`` deep in a normalizer.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from worker.domain.poison import safe_text
from worker.domain.scrub import REDACTED
from worker.domain.timestamps import parse_iso8601, parse_unix_ms
from worker.errors import NormalizationError

__all__ = [
    "INT64_MAX",
    "MISSING",
    "REDACTED",
    "Record",
    "Rejection",
    "RejectionKind",
    "reader_error",
]

INT64_MAX = 2**63 - 1

E = TypeVar("E", bound=enum.Enum)


class _Missing(enum.Enum):
    MISSING = "<missing>"

    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing.MISSING


class Record:
    """A raw JSON object and the dotted path it sits at."""

    __slots__ = ("_data", "_prefix")

    def __init__(self, data: Any, prefix: str = "") -> None:
        if not isinstance(data, Mapping):
            raise NormalizationError(prefix, data, f"expected an object, got {type(data).__name__}")
        self._data: Mapping[str, Any] = data
        self._prefix = prefix

    def path(self, name: str) -> str:
        """The dotted path of ``name`` inside this record."""
        return f"{self._prefix}.{name}" if self._prefix else name

    def raw(self, name: str) -> Any:
        """The raw value, or ``MISSING`` when the key is absent."""
        return self._data.get(name, MISSING)

    def has(self, name: str) -> bool:
        """Whether the key is present (even with a null value)."""
        return name in self._data

    def error(self, name: str, reason: str) -> NormalizationError:
        """A NormalizationError for ``name`` carrying its raw value."""
        return NormalizationError(self.path(name), self.raw(name), reason)

    def _typed(self, name: str, types: tuple[type, ...], label: str, *, required: bool) -> Any:
        value = self._present(name, required=required)
        if value is None:
            return None
        # bool is an int subclass; reject it where a number is expected.
        if isinstance(value, bool) and bool not in types:
            raise self.error(name, f"expected {label}, got bool")
        if not isinstance(value, types):
            raise self.error(name, f"expected {label}, got {type(value).__name__}")
        return value

    def id(self, name: str) -> str:
        """A required identifier: a non-empty string, or an integer rendered as one."""
        value = self._typed(name, (str, int), "string or integer id", required=True)
        text = str(value).strip()
        if not text:
            raise self.error(name, "empty id")
        return text

    def text(self, name: str, *, required: bool = False) -> str | None:
        """A string, or ``None`` when absent or null and not required."""
        value: str | None = self._typed(name, (str,), "string", required=required)
        return value

    def counter(self, name: str, notes: list[str]) -> int | None:
        """A count that degrades instead of rejecting the record.

        Not an integer: NormalizationError, as for any field. Negative, or past
        what a 64-bit column holds: ``None``, with a note in ``notes``.
        """
        value: int | None = self._typed(name, (int,), "integer", required=False)
        if value is None:
            return None
        if value < 0:
            notes.append(f"{self.path(name)}: {value} is negative; stored as null")
            return None
        if value > INT64_MAX:
            notes.append(f"{self.path(name)}: {value} is past 64 bits; stored as null")
            return None
        return value

    def lenient_choice(self, name: str, kind: type[E], notes: list[str]) -> E | None:
        """One of ``kind``'s values; any other string is ``None``, with a note in ``notes``."""
        value = self.text(name)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in kind)
            notes.append(
                f"{self.path(name)}: {safe_text(value)!r} is not one of {allowed}; stored as null"
            )
            return None

    def integer(self, name: str, *, required: bool = False, minimum: int | None = 0) -> int | None:
        """An integer, at least ``minimum`` unless that is None."""
        value: int | None = self._typed(name, (int,), "integer", required=required)
        if value is not None and minimum is not None and value < minimum:
            raise self.error(name, f"must be >= {minimum}")
        return value

    def boolean(self, name: str, *, required: bool = False) -> bool | None:
        """A JSON boolean."""
        value: bool | None = self._typed(name, (bool,), "boolean", required=required)
        return value

    def array(self, name: str, *, required: bool = False) -> list[Any] | None:
        """A JSON array."""
        value: list[Any] | None = self._typed(name, (list,), "array", required=required)
        return value

    def child(self, name: str, *, required: bool = False) -> Record | None:
        """A nested object as a Record, or ``None`` when absent or null."""
        value = self._typed(name, (Mapping,), "object", required=required)
        return None if value is None else Record(value, self.path(name))

    def choice(self, name: str, kind: type[E], *, required: bool = False) -> E | None:
        """A string that must be one of ``kind``'s values."""
        value = self.text(name, required=required)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in kind)
            raise self.error(name, f"expected one of {allowed}") from None

    def unix_ms(self, name: str, *, required: bool = False) -> datetime | None:
        """Integer unix milliseconds as an aware UTC datetime (see ``timestamps``)."""
        value = self._present(name, required=required)
        return None if value is None else parse_unix_ms(value, self.path(name))

    def iso8601(self, name: str, *, required: bool = False) -> datetime | None:
        """An ISO-8601 date-time with ``Z`` or an offset, as aware UTC."""
        value = self._present(name, required=required)
        return None if value is None else parse_iso8601(value, self.path(name))

    def _present(self, name: str, *, required: bool) -> Any:
        value = self.raw(name)
        if value is MISSING or value is None:
            if required:
                raise self.error(name, "required")
            return None
        return value


class RejectionKind(enum.StrEnum):
    """Why something was set aside in ``sync_errors``."""

    NORMALIZATION = "normalization"  # the record was quarantined, not stored
    READER_ERROR = "reader_error"  # its reading rules raised something else: a bug; quarantined
    UNSTORABLE = "unstorable"  # it holds a value PostgreSQL cannot store; quarantined
    UNKNOWN_STATUS = "unknown_status"  # stored with status unknown; noted once per value
    DETAIL = "detail"  # its detail failed after retries; its stored state is kept this cycle
    DETAIL_MISSING = "detail_missing"  # listed, but its detail answered 404; stored state kept
    PAGE = "page"  # a whole page or the target failed

    @property
    def quarantines(self) -> bool:
        """Whether the record was set aside (counted as ``rejected``), not merely noted."""
        return self in (
            RejectionKind.NORMALIZATION,
            RejectionKind.UNSTORABLE,
            RejectionKind.READER_ERROR,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """Something a sync cycle could not take as it came, kept with its reason.

    Attributes:
        campaign_id: the record's id when it could be read.
        field: the raw field at fault, or ``""``.
        reason: a message naming the field and value.
        raw: the raw record (redact before storing), or ``None`` for a page failure.
    """

    kind: RejectionKind
    reason: str
    campaign_id: str | None = None
    field: str = ""
    raw: Any = None
    detail: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def reader_error(provider: str, exc: Exception, campaign_id: str | None, raw: Any) -> Rejection:
    """The quarantine of a record whose reading rules raised ``exc``, not a
    :class:`~worker.errors.NormalizationError`: a bug in the worker, to be reported,
    that costs this record and never its page."""
    return Rejection(
        kind=RejectionKind.READER_ERROR,
        reason=f"{type(exc).__name__} while reading the record: {exc}; this is a bug in "
        f"campaign-sync's {provider} reading rules, please report it",
        campaign_id=campaign_id,
        raw=raw,
        detail={"exception": type(exc).__name__},
    )
