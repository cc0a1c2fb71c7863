"""Mapping between Campaign values and the columns of ``campaigns`` and ``campaign_history``."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from worker.domain.campaign import TIME_FIELDS, Campaign, Counters, PausedBy, Status
from worker.domain.diff import Change, StoredHead
from worker.domain.windows import CallWindow
from worker.storage.engine import json_value

__all__ = [
    "HEAD_COLUMNS",
    "campaign_from_row",
    "campaign_row",
    "current_row",
    "head_from_row",
    "instant",
]

_COUNTER_COLUMNS = tuple(f.name for f in fields(Counters))  # columns share the field names


def campaign_row(change: Change) -> dict[str, Any]:
    """The column values of one new version (current row and history row alike)."""
    c = change.campaign
    return {
        "provider": c.provider,
        "account": c.account,
        "campaign_id": c.campaign_id,
        "version": change.version,
        "name": c.name,
        "status": c.status.value,
        "status_raw": c.status_raw,
        "status_derived": c.status_derived,
        "paused_by": None if c.paused_by is None else c.paused_by.value,
        **{name: getattr(c.counters, name) for name in _COUNTER_COLUMNS},
        **{name: getattr(c, name) for name in TIME_FIELDS},
        "call_window": None if c.call_window is None else c.call_window.to_json(),
        "time_flags": list(c.time_flags),
        "degraded": list(c.degraded),
        "raw": dict(c.raw),
        "content_hash": change.content_hash,
    }


def current_row(change: Change) -> dict[str, Any]:
    """The ``campaigns`` row of a new version: its columns, seen and changed now, listed."""
    return campaign_row(change) | {
        "first_seen_at": change.observed_at,
        "last_changed_at": change.observed_at,
        "vanished_at": None,
        "missed_listings": 0,
        "list_hash": change.list_hash,
    }


# The columns of ``campaigns`` that :func:`head_from_row` reads.
HEAD_COLUMNS = (
    "campaign_id",
    "version",
    "content_hash",
    "status",
    "status_derived",
    "last_changed_at",
    "provider_updated_at",
    "vanished_at",
    "missed_listings",
    "list_hash",
    "scheduled_start_at",
    "scheduled_end_at",
)


def head_from_row(row: Any) -> StoredHead:
    """The StoredHead of a ``campaigns`` row holding at least :data:`HEAD_COLUMNS`
    (a SQLAlchemy row, or a driver record read by column name)."""
    m = getattr(row, "_mapping", row)  # a SQLAlchemy row, or a record read by name
    return StoredHead(
        version=m["version"],
        content_hash=m["content_hash"],
        status=Status(m["status"]),
        status_derived=m["status_derived"],
        observed_at=m["last_changed_at"],
        provider_updated_at=instant(m["provider_updated_at"]),
        vanished_at=m["vanished_at"],
        missed_listings=m["missed_listings"],
        list_hash=m["list_hash"],
        scheduled_start_at=instant(m["scheduled_start_at"]),
        scheduled_end_at=instant(m["scheduled_end_at"]),
    )


def campaign_from_row(row: Any) -> Campaign:
    """Rebuild the stored Campaign of a ``campaigns`` row (inverse of ``campaign_row``):
    a SQLAlchemy row, or a driver record whose jsonb columns may still be text."""
    m = getattr(row, "_mapping", row)  # a SQLAlchemy row, or a record read by name
    window, flags, degraded, raw = (
        _decoded(m[name]) for name in ("call_window", "time_flags", "degraded", "raw")
    )
    return Campaign(
        provider=m["provider"],
        account=m["account"],
        campaign_id=m["campaign_id"],
        name=m["name"],
        status=Status(m["status"]),
        status_raw=m["status_raw"],
        status_derived=m["status_derived"],
        paused_by=None if m["paused_by"] is None else PausedBy(m["paused_by"]),
        counters=Counters(**{name: m[name] for name in _COUNTER_COLUMNS}),
        **{name: instant(m[name]) for name in TIME_FIELDS},
        call_window=None if window is None else CallWindow.from_json(window),
        time_flags=tuple(flags),
        degraded=tuple(degraded),
        raw=raw,
    )


def instant(value: datetime | None) -> datetime | None:
    """A ``timestamptz`` as written. asyncpg writes ``datetime.min`` and ``max`` (aware, UTC:
    a provider may send 0001-01-01T00:00:00Z) as ``-infinity`` and ``infinity``, and reads
    those back as naive ``datetime.min`` and ``max``; they are UTC, as everything stored is."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _decoded(value: Any) -> Any:
    # None of these columns ever holds a bare JSON string, so a str is undecoded jsonb.
    return json_value(value) if isinstance(value, str) else value
