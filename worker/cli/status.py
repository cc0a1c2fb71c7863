"""``campaign-sync status`` rendered: an aligned text table, or JSON. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime

from worker.storage.reporting import TargetStatus

__all__ = ["render_status_table", "status_json"]

_ERROR_CHARS = 60  # of a last error, in the text table (JSON keeps it whole)


def _span(seconds: float) -> str:
    """A short human duration: ``45s``, ``12m 5s``, ``3h 20m``, ``2d 4h``."""
    s = max(0, round(seconds))
    for unit, size, small, small_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60)):
        if s >= size:
            return f"{s // size}{unit} {s % size // small_size}{small}"
    return f"{s // 60}m {s % 60}s" if s >= 60 else f"{s}s"


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _joined(counts: Mapping[str, int], suffix: str = "") -> list[str]:
    return [f"{name} {n}{suffix}" for name, n in counts.items()]


def _cells(row: TargetStatus, now: datetime) -> list[str]:
    success = "never" if row.last_success_at is None else _utc(row.last_success_at)
    age = "-" if row.last_success_at is None else _span((now - row.last_success_at).total_seconds())
    error = "-"
    if row.last_error is not None:
        message = " ".join(row.last_error.split())
        if len(message) > _ERROR_CHARS:
            message = message[: _ERROR_CHARS - 1] + "…"
        when = row.last_error_at
        error = message if when is None else f"{_span((now - when).total_seconds())} ago: {message}"
    campaigns = _joined(row.campaigns) + ([f"vanished {row.vanished}"] if row.vanished else [])
    lease = "-"
    if row.lease_owner is not None:
        expires = row.lease_expires_at
        if expires is None or expires <= now:
            lease = f"{row.lease_owner} (expired)"
        else:
            lease = f"{row.lease_owner} (for {_span((expires - now).total_seconds())})"
    backlog = (
        _joined(row.consumer_lag)
        + _joined(row.webhook_pending, " queued")
        + _joined(row.webhook_dead, " dead")
    )
    return [
        row.target,
        success,
        age,
        row.last_status or "-",
        error,
        ", ".join(campaigns) or "-",
        lease,
        ", ".join(backlog) or "-",
    ]


_HEADERS = [
    "TARGET", "LAST SUCCESS", "AGE", "LAST RUN", "LAST ERROR", "CAMPAIGNS", "LEASE", "BACKLOG",
]  # fmt: skip


def render_status_table(rows: Sequence[TargetStatus], now: datetime) -> str:
    """An aligned text table, one line per target; ages are relative to ``now``. Pure."""
    if not rows:
        return "no target has been synced yet"
    table = [_HEADERS, *(_cells(row, now) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    )


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return dict(value) if isinstance(value, Mapping) else value


def status_json(rows: Sequence[TargetStatus]) -> str:
    """A JSON array, one object per target; times ISO 8601 in UTC with ``+00:00``. Pure."""
    plain = [{f.name: _plain(getattr(row, f.name)) for f in fields(row)} for row in rows]
    return json.dumps(plain, indent=2, ensure_ascii=False)
