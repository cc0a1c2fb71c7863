"""Every row a store holds after the script, canonical: keyed, JSON-ready, free of serial ids.

A snapshot is ``{table: {key: {column: value}}}`` over ``campaigns``, ``campaign_history``,
``campaign_events``, ``sync_errors`` and ``sync_runs``. Values are canonical JSON: times as
ISO 8601 in UTC, UUIDs as text, JSON columns as decoded JSON. What a database sequence or the
database's own clock chose is replaced by what it means:

* ``campaign_history.id``, ``sync_errors.id``: left out (a sequence's choice; the keys say
  which row it is);
* ``campaign_events.id`` becomes ``position``, the event's place among its campaign's events
  in outbox order (the order a subscriber sees them in); ``xid`` (the writing transaction's
  id) is left out;
* ``sync_runs.id`` becomes the run's key, ``<provider>/<account> run <n>``, n counted from 1
  in the order the target's runs started, and ``sync_errors.last_run_id`` that key;
* ``sync_errors.first_seen_at``/``last_seen_at`` read :data:`DATABASE_NOW` when they are the
  database's ``now()`` (a page without changes notes its rejections at the transaction's
  time), recognised by falling inside the wall-clock span of the run; the scripted times
  are hours away from any wall clock.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conformance.memory_inspector import (
    campaign_columns,
    error_columns,
    event_columns,
    history_columns,
    run_columns,
)
from worker.memory import MemoryState

__all__ = [
    "COLUMNS",
    "DATABASE_NOW",
    "FIXTURES",
    "Snapshot",
    "differences",
    "load",
    "memory_snapshot",
    "postgres_snapshot",
    "save",
]

Row = dict[str, Any]
Snapshot = dict[str, dict[str, Row]]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "equivalence"
DATABASE_NOW = "<the database's now()>"
_SLACK = timedelta(seconds=5)  # the server's clock and this process's, read apart

_VERSIONED = (
    "provider", "account", "campaign_id", "version", "name", "status", "status_raw",
    "status_derived", "paused_by", "total_calls", "completed_calls", "failed_calls",
    "active_calls", "concurrency", "created_at", "scheduled_start_at", "scheduled_end_at",
    "paused_at", "finished_at", "provider_updated_at", "last_run_at", "call_window",
    "time_flags", "degraded", "raw", "content_hash",
)  # fmt: skip
# The columns read, per table: every column but the ones the module docstring leaves out.
COLUMNS: dict[str, tuple[str, ...]] = {
    "campaigns": (
        *_VERSIONED, "first_seen_at", "last_changed_at", "vanished_at", "missed_listings",
        "list_hash",
    ),
    "campaign_history": (*_VERSIONED, "valid_from", "valid_to", "vanished_at"),
    "campaign_events": (
        "id", "event_id", "type", "provider", "account", "campaign_id", "version",
        "occurred_at", "detected_at", "data",
    ),
    "sync_errors": (
        "fingerprint", "provider", "account", "kind", "campaign_id", "field", "reason", "raw",
        "detail", "first_seen_at", "last_seen_at", "occurrences", "last_run_id",
    ),
    "sync_runs": (
        "id", "provider", "account", "started_at", "finished_at", "status", "pages", "records",
        "changed", "events", "rejected", "vanished", "deferred", "error", "owner",
        "lease_token",
    ),
}  # fmt: skip


async def postgres_snapshot(engine: AsyncEngine, wall: tuple[datetime, datetime]) -> Snapshot:
    """Every row of the five tables in ``engine``'s database; ``wall``: when the script ran."""
    tables: dict[str, list[Row]] = {}
    async with engine.connect() as conn:
        for table, columns in COLUMNS.items():
            query = f"SELECT {', '.join(columns)} FROM {table}"  # noqa: S608 (names fixed above)
            result = await conn.execute(text(query))
            tables[table] = [dict(row) for row in result.mappings()]
    return _canonical(tables, wall)


def memory_snapshot(state: MemoryState) -> Snapshot:
    """Every row of a MemoryState's tables, as PostgreSQL's columns."""
    tables = {
        "campaigns": [campaign_columns(row) for row in state.campaigns.rows.values()],
        "campaign_history": [history_columns(row) for row in state.history.rows.values()],
        "campaign_events": [event_columns(row) for row in state.events.rows.values()],
        "sync_errors": [error_columns(row) for row in state.errors.rows.values()],
        "sync_runs": [run_columns(row) for row in state.runs.rows.values()],
    }
    return _canonical(tables, None)


def _canonical(tables: Mapping[str, list[Row]], wall: tuple[datetime, datetime] | None) -> Snapshot:
    runs = _run_keys(tables["sync_runs"])
    positions = _positions(tables["campaign_events"])
    snapshot: Snapshot = {}
    for table, rows in tables.items():
        keyed: dict[str, Row] = {}
        for found in rows:
            row = {name: _json(value) for name, value in found.items()}
            if table == "campaign_events":
                row["position"] = positions[found["id"]]
                del row["id"]
            elif table == "sync_runs":
                del row["id"]
            elif table == "sync_errors":
                row["last_run_id"] = runs.get(found["last_run_id"])
                for name in ("first_seen_at", "last_seen_at"):
                    if wall is not None and _during(found[name], wall):
                        row[name] = DATABASE_NOW
            key = runs[found["id"]] if table == "sync_runs" else _KEYS[table](found)
            if key in keyed:
                raise AssertionError(f"{table}: two rows with the key {key}")
            keyed[key] = row
        snapshot[table] = dict(sorted(keyed.items()))
    return snapshot


def _campaign(row: Row) -> str:
    return f"{row['provider']}/{row['account']}/{row['campaign_id']}"


_KEYS: dict[str, Callable[[Row], str]] = {
    "campaigns": _campaign,
    "campaign_history": lambda r: f"{_campaign(r)} v{r['version']:03d}",
    "campaign_events": lambda r: f"{_campaign(r)} v{r['version']:03d} {r['type']} {r['event_id']}",
    "sync_errors": lambda r: (
        f"{r['provider']}/{r['account']}/{r['campaign_id'] or '-'} {r['kind']} {r['fingerprint']}"
    ),
}


def _run_keys(runs: Iterable[Row]) -> dict[int, str]:
    """Each run's id -> ``<provider>/<account> run <n>``, n in the order the target's ran."""
    by_target: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for run in runs:
        by_target[(run["provider"], run["account"])].append(run)
    keys = {}
    for (provider, account), rows in by_target.items():
        for n, run in enumerate(sorted(rows, key=lambda r: (r["started_at"], r["id"])), 1):
            keys[run["id"]] = f"{provider}/{account} run {n:02d}"
    return keys


def _positions(events: Iterable[Row]) -> dict[int, int]:
    """Each event's id -> its place (from 1) among its campaign's events, in outbox order."""
    seen: dict[str, int] = defaultdict(int)
    places = {}
    for event in sorted(events, key=lambda e: e["id"]):
        campaign = _campaign(event)
        seen[campaign] += 1
        places[event["id"]] = seen[campaign]
    return places


def _during(value: datetime, wall: tuple[datetime, datetime]) -> bool:
    return wall[0] - _SLACK <= value <= wall[1] + _SLACK


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, uuid.UUID) or type(value).__name__ == "UUID":  # asyncpg's own UUID
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def differences(
    expected: Snapshot, actual: Snapshot, *, database_now_matches_any: bool
) -> list[str]:
    """Every difference, as ``<table>[<key>].<column>: expected …, stored …``.

    ``database_now_matches_any``: a :data:`DATABASE_NOW` in ``expected`` matches any value
    (for a store without a database clock).
    """
    found = []
    for table in sorted(set(expected) | set(actual)):
        want, got = expected.get(table, {}), actual.get(table, {})
        found += [f"{table}[{key}]: expected, not stored" for key in want.keys() - got.keys()]
        found += [f"{table}[{key}]: stored, not expected" for key in got.keys() - want.keys()]
        for key in want.keys() & got.keys():
            for column in sorted(want[key].keys() | got[key].keys()):
                a, b = want[key].get(column, _ABSENT), got[key].get(column, _ABSENT)
                if a == b or (database_now_matches_any and a == DATABASE_NOW):
                    continue
                found.append(f"{table}[{key}].{column}: expected {_short(a)}, stored {_short(b)}")
    return sorted(found)


_ABSENT = "<no such column>"


def _short(value: Any, limit: int = 300) -> str:
    shown = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return shown if len(shown) <= limit else f"{shown[:limit]}… ({len(shown)} characters)"


def save(snapshot: Snapshot, folder: Path = FIXTURES) -> None:
    """Write one canonical JSON file per table: an object of rows by key, one row a line."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, rows in snapshot.items():
        lines = [f"{json.dumps(key)}: {_compact(row)}" for key, row in sorted(rows.items())]
        (folder / f"{table}.json").write_text("{\n" + ",\n".join(lines) + "\n}\n", "utf-8")


def _compact(row: Row) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def load(folder: Path = FIXTURES) -> Snapshot:
    """The recorded snapshot (one file per table)."""
    return {
        table: json.loads((folder / f"{table}.json").read_text(encoding="utf-8"))
        for table in COLUMNS
    }
