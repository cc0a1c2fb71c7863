"""A page's new versions and events in two statements of bound arrays, no staging table.

1. upsert ``campaigns`` from one array per column over the expected version
   (``version = new - 1``), returning the campaigns it moved; close exactly
   the previous history rows of those that had one, and insert the history rows
   of the new ones (version 1) from the same arrays;
2. insert the other moved campaigns' history rows, read back from the
   ``campaigns`` rows statement 1 just wrote (each version crosses the wire once),
   and the events of the applied changes plus the schema-drift events, then
   ``pg_notify`` the newest event id when any was inserted.

A changed campaign's new history row is inserted by the second statement because
``ux_campaign_history_current`` allows one open row per campaign and the parts of
one statement see one snapshot (its old row is closed by the first); a new one
has no row to close. Rows and serial ids are taken in the caller's order within
each statement (so a batch's new campaigns' history ids come before its changed
ones'); ``tests/storage/test_set_based_writes.py`` checks the rows against the
per-table inserts of ``worker.storage.bulk``, the equivalence test against the
rows stored before issue 19. Lookups are keyed
probes per id (``LATERAL … OFFSET 0``, see ``worker.storage.sql``), so no plan
depends on table statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from worker.domain.campaign import TargetKey
from worker.domain.diff import Change
from worker.domain.events import ChangeEvent
from worker.storage.engine import json_text
from worker.storage.rows import CURRENT_COLUMNS, current_values
from worker.storage.staging import StagedApply
from worker.storage.tables import NOTIFY_CHANNEL, campaign_events, campaign_history, campaigns

__all__ = ["apply_fused"]

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_CURRENT = CURRENT_COLUMNS
_HISTORY = tuple(c.name for c in campaign_history.columns if c.name not in {"id", "vanished_at"})
_EVENTS = (
    "event_id", "type", "provider", "account", "campaign_id", "version",
    "occurred_at", "detected_at", "data",
)  # fmt: skip
_KEPT = {"provider", "account", "campaign_id", "first_seen_at"}
_REFRESHED = [n for n in _CURRENT if n not in _KEPT]


def _arrays(table: Table, names: Sequence[str], first: int) -> str:
    return ", ".join(
        f"${i}::{table.c[name].type.compile(dialect=_DIALECT)}[]"
        for i, name in enumerate(names, first)
    )


# All SQL below is built from table metadata and constants only, never from input.
# $1 provider, $2 account, $3 … one array per column of campaigns, then previous versions.
_PREVIOUS = len(_CURRENT) + 3
_FRESH = ", ".join(
    {"valid_from": "u.last_changed_at", "valid_to": "NULL::timestamptz"}.get(n, f"u.{n}")
    for n in _HISTORY
)
_UPSERT_AND_CLOSE = (
    f"WITH u AS MATERIALIZED (SELECT * FROM unnest({_arrays(campaigns, _CURRENT, 3)}, "  # noqa: S608
    f"${_PREVIOUS}::integer[]) WITH ORDINALITY "
    f"AS u({', '.join(_CURRENT)}, previous_version, ord)), "
    f"cur AS (INSERT INTO campaigns ({', '.join(_CURRENT)}) "
    f"SELECT {', '.join(_CURRENT)} FROM u ORDER BY ord "
    "ON CONFLICT (provider, account, campaign_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _REFRESHED)
    + " WHERE campaigns.version = excluded.version - 1 RETURNING campaign_id), "  # noqa: S608
    "closed AS (UPDATE campaign_history AS t SET valid_to = k.at "
    "FROM (SELECT u.campaign_id, u.previous_version, u.last_changed_at AS at FROM u "
    "WHERE u.previous_version IS NOT NULL AND u.campaign_id IN (SELECT campaign_id FROM cur)) k "
    "CROSS JOIN LATERAL (SELECT x.ctid AS row FROM campaign_history AS x "
    "WHERE x.provider = $1 AND x.account = $2 AND x.campaign_id = k.campaign_id "
    "AND x.version = k.previous_version AND x.valid_to IS NULL OFFSET 0) AS found "
    "WHERE t.ctid = found.row), "
    # A new campaign has no open history row to close first: its row goes in here, from
    # the arrays (no read-back).
    f"fresh AS (INSERT INTO campaign_history ({', '.join(_HISTORY)}) SELECT {_FRESH} FROM u "
    "WHERE u.previous_version IS NULL AND u.campaign_id IN (SELECT campaign_id FROM cur) "
    "ORDER BY u.ord ON CONFLICT (provider, account, campaign_id, version) DO NOTHING) "
    "SELECT campaign_id FROM cur"
)
_HISTORY_READ = {"valid_from": "c.last_changed_at", "valid_to": "NULL::timestamptz"}
# $1 provider, $2 account, $3 the applied ids in order, $4 the notify channel, $5 … events.
_HISTORY_AND_EVENTS = (
    "WITH hist AS (INSERT INTO campaign_history "  # noqa: S608
    f"({', '.join(_HISTORY)}) SELECT "
    + ", ".join(_HISTORY_READ.get(n, f"c.{n}") for n in _HISTORY)
    + " FROM unnest($3::text[]) WITH ORDINALITY AS k(campaign_id, ord) "  # noqa: S608
    "CROSS JOIN LATERAL (SELECT * FROM campaigns AS c WHERE c.provider = $1 AND c.account = $2 "
    "AND c.campaign_id = k.campaign_id OFFSET 0) AS c ORDER BY k.ord "
    "ON CONFLICT (provider, account, campaign_id, version) DO NOTHING), "
    f"ev AS (INSERT INTO campaign_events ({', '.join(_EVENTS)}) "
    f"SELECT {', '.join(_EVENTS)} FROM unnest({_arrays(campaign_events, _EVENTS, 5)}) "
    f"WITH ORDINALITY AS e({', '.join(_EVENTS)}, ord) ORDER BY ord "
    "ON CONFLICT (event_id) DO NOTHING RETURNING id, type), "
    # NOTIFY only wakes listeners; the payload is the newest id, never the event.
    "note AS (SELECT pg_notify($4, max(id)::text) FROM ev HAVING count(*) > 0) "
    "SELECT type FROM ev UNION ALL SELECT NULL FROM note"
)


def _version_arrays(changes: Sequence[Change]) -> list[Sequence[Any]]:
    arrays: list[Sequence[Any]] = list(
        zip(*(current_values(ch, json_text) for ch in changes), strict=True)
    )
    arrays.append([ch.previous_version if ch.previous else None for ch in changes])
    return arrays


def _event_arrays(events: Sequence[ChangeEvent]) -> list[list[Any]]:
    return [
        [ev.event_id for ev in events],
        [ev.type for ev in events],
        [ev.key.provider for ev in events],
        [ev.key.account for ev in events],
        [ev.key.campaign_id for ev in events],
        [ev.version for ev in events],
        [ev.occurred_at for ev in events],
        [ev.detected_at for ev in events],
        [json_text(dict(ev.data)) for ev in events],
    ]


async def apply_fused(
    driver: asyncpg.Connection,
    target: TargetKey,
    changes: Sequence[Change],
    drift: Sequence[ChangeEvent],
) -> StagedApply:
    """Apply ``changes`` and ``drift`` in ``driver``'s open transaction (see the module
    docstring); the caller has fenced it and counts the run."""
    who = (target.provider, target.account)
    moved: set[str] = set()
    if changes:
        rows = await driver.fetch(_UPSERT_AND_CLOSE, *who, *_version_arrays(changes))
        moved = {row[0] for row in rows}
    kept = [ch for ch in changes if ch.campaign.campaign_id in moved]
    events = [*(ev for ch in kept for ev in ch.events), *drift]
    types: list[str] = []
    if kept or events:
        # New campaigns' history rows went in with statement 1.
        applied = [ch.campaign.campaign_id for ch in kept if ch.previous is not None]
        rows = await driver.fetch(
            _HISTORY_AND_EVENTS, *who, applied, NOTIFY_CHANNEL, *_event_arrays(events)
        )
        types = [row[0] for row in rows if row[0] is not None]
    return StagedApply(applied=frozenset(moved), event_types=tuple(types))
