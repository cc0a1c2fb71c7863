"""Mapping between Campaign values and the columns of ``campaign_history`` (and of
``campaigns``, the view of its open rows)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from worker.domain.campaign import TIME_FIELDS, Campaign, Counters, PausedBy, Status
from worker.domain.diff import Change, StoredHead
from worker.domain.windows import CallWindow
from worker.storage.engine import json_value

__all__ = [
    "CAMPAIGN_COLUMNS",
    "CURRENT_COLUMNS",
    "HEAD_COLUMNS",
    "NEW_VERSION_COLUMNS",
    "campaign_from_row",
    "campaign_row",
    "campaign_values",
    "head_from_row",
    "instant",
    "new_version_row",
    "new_version_values",
]

_COUNTER_COLUMNS = tuple(f.name for f in fields(Counters))  # columns share the field names


# The columns of both tables that :func:`campaign_values` fills, in the tables' order.
CAMPAIGN_COLUMNS = (
    "provider", "account", "campaign_id", "version", "name", "status", "status_raw",
    "status_derived", "paused_by", *_COUNTER_COLUMNS, *TIME_FIELDS, "call_window",
    "time_flags", "degraded", "raw", "content_hash",
)  # fmt: skip
# The view ``campaigns`` adds the open row's bookkeeping (``last_changed_at`` is its
# ``valid_from``).
CURRENT_COLUMNS = (
    *CAMPAIGN_COLUMNS, "first_seen_at", "last_changed_at", "vanished_at", "missed_listings",
    "list_hash",
)  # fmt: skip
# The columns a new version's history row is inserted with (see
# :func:`new_version_values`); the rest keep their defaults (open, listed, not vanished).
NEW_VERSION_COLUMNS = (*CAMPAIGN_COLUMNS, "valid_from", "first_seen_at", "list_hash")


def _same(value: Any) -> Any:
    return value


def campaign_values(change: Change, json: Callable[[Any], Any] = _same) -> tuple[Any, ...]:
    """The values of :data:`CAMPAIGN_COLUMNS` of one new version (its history
    row, the current state while it is open), each jsonb column's value passed through ``json``.

    A tuple, not a dict: a batch of them turns into column arrays with one ``zip``
    (this runs once per stored version, on the hot path of an initial sync).
    """
    c, k = change.campaign, change.campaign.counters
    window = c.call_window
    return (
        c.provider, c.account, c.campaign_id, change.version, c.name, c.status.value,
        c.status_raw, c.status_derived, None if c.paused_by is None else c.paused_by.value,
        k.total_calls, k.completed_calls, k.failed_calls, k.active_calls, k.concurrency,
        c.created_at, c.scheduled_start_at, c.scheduled_end_at, c.paused_at, c.finished_at,
        c.provider_updated_at, c.last_run_at,
        None if window is None else json(window.to_json()),
        json(list(c.time_flags)), json(list(c.degraded)), json(dict(c.raw)), change.content_hash,
    )  # fmt: skip


def new_version_values(
    change: Change, first_seen_at: datetime, json: Callable[[Any], Any] = _same
) -> tuple[Any, ...]:
    """The values of :data:`NEW_VERSION_COLUMNS`: a new version's history row, open from
    its observation, for a campaign first seen at ``first_seen_at``."""
    return (*campaign_values(change, json), change.observed_at, first_seen_at, change.list_hash)


def campaign_row(change: Change) -> dict[str, Any]:
    """:func:`campaign_values` by column name."""
    return dict(zip(CAMPAIGN_COLUMNS, campaign_values(change), strict=True))


def new_version_row(change: Change, first_seen_at: datetime) -> dict[str, Any]:
    """:func:`new_version_values` by column name."""
    return dict(zip(NEW_VERSION_COLUMNS, new_version_values(change, first_seen_at), strict=True))


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
