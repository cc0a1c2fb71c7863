"""A page's new versions and events through binary COPY into staging tables, then two
set-based statements.

Each new version is sent once: one ``COPY`` row in ``cs_stage_versions`` holds
what both its ``campaigns`` row and its ``campaign_history`` row are made of
(the per-table inserts of ``worker.storage.bulk`` send it twice, each as arrays
the driver checks value by value). Events go to ``cs_stage_events`` the same way.
Then, in the page's transaction (which ``fence`` opened under the lease):

1. upsert ``campaigns`` over the expected version (``version = new - 1``),
   returning the campaigns it moved, and close exactly their previous history
   rows (one statement, two tables);
2. insert those campaigns' history rows and events, plus the schema-drift
   events, and ``pg_notify`` the newest event id when any was inserted.

History rows are inserted only after the previous ones are closed, by a second
statement: ``ux_campaign_history_current`` allows one open row per campaign,
and the parts of one statement see one snapshot. Rows and serial ids are taken
in the order staged, as the per-table inserts take them. The staging tables are
temporary (this connection only), created on a connection's first staged page
and emptied at every commit (``ON COMMIT DELETE ROWS``). jsonb values travel as
text (``worker.storage.engine.json_text``, exact for integers past 64 bits) and
are cast in the statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB

from worker.domain.campaign import TargetKey
from worker.domain.diff import Change
from worker.domain.events import ChangeEvent
from worker.storage.engine import json_text
from worker.storage.rows import current_values
from worker.storage.tables import NOTIFY_CHANNEL, campaign_events, campaign_history, campaigns

__all__ = ["StagedApply", "apply_staged"]

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_VERSIONS = "cs_stage_versions"
_EVENTS = "cs_stage_events"
_CURRENT_COLUMNS = tuple(c.name for c in campaigns.columns)
_HISTORY_COLUMNS = tuple(
    c.name for c in campaign_history.columns if c.name not in {"id", "vanished_at"}
)
_EVENT_COLUMNS = (
    "event_id", "type", "provider", "account", "campaign_id", "version",
    "occurred_at", "detected_at", "data",
)  # fmt: skip
_REFRESHED = [
    name
    for name in _CURRENT_COLUMNS
    if name not in {"provider", "account", "campaign_id", "first_seen_at"}
]


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, JSONB)


def _staged_type(table: Table, name: str) -> str:
    return "text" if _is_json(table, name) else str(table.c[name].type.compile(dialect=_DIALECT))


def _read(table: Table, name: str, prefix: str = "s.") -> str:
    """A staged column as the target column's type (jsonb arrives as text)."""
    return f"{prefix}{name}::jsonb" if _is_json(table, name) else f"{prefix}{name}"


# Extra staging columns: ``ord`` keeps the caller's order; ``previous_version`` is the
# history row to close (NULL for a new campaign); ``owner`` gates a change's events
# on its campaign being applied (NULL: a drift event, always inserted once).
_VERSION_STAGE = ("ord", "previous_version", *_CURRENT_COLUMNS)
_EVENT_STAGE = ("ord", "owner", *_EVENT_COLUMNS)
_CREATE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_VERSIONS} (ord integer, previous_version integer, "
    + ", ".join(f"{name} {_staged_type(campaigns, name)}" for name in _CURRENT_COLUMNS)
    + ") ON COMMIT DELETE ROWS; "
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_EVENTS} (ord integer, owner text, "
    + ", ".join(f"{name} {_staged_type(campaign_events, name)}" for name in _EVENT_COLUMNS)
    + ") ON COMMIT DELETE ROWS"
)
# All SQL below is built from table metadata and constants only, never from input.
# $1 provider, $2 account.
_UPSERT_AND_CLOSE = (
    f"WITH cur AS (INSERT INTO campaigns ({', '.join(_CURRENT_COLUMNS)}) "  # noqa: S608
    f"SELECT {', '.join(_read(campaigns, n) for n in _CURRENT_COLUMNS)} "
    f"FROM {_VERSIONS} AS s ORDER BY s.ord "
    "ON CONFLICT (provider, account, campaign_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _REFRESHED)
    + " WHERE campaigns.version = excluded.version - 1 RETURNING campaign_id), "  # noqa: S608
    # Close by the keyed probe of ``worker.storage.sql`` (a plan that needs no statistics).
    "closed AS (UPDATE campaign_history AS t SET valid_to = k.at "
    f"FROM (SELECT s.campaign_id, s.previous_version, s.last_changed_at AS at FROM {_VERSIONS} s "
    "WHERE s.previous_version IS NOT NULL AND s.campaign_id IN (SELECT campaign_id FROM cur)) k "
    "CROSS JOIN LATERAL (SELECT x.ctid AS row FROM campaign_history AS x "
    "WHERE x.provider = $1 AND x.account = $2 AND x.campaign_id = k.campaign_id "
    "AND x.version = k.previous_version AND x.valid_to IS NULL OFFSET 0) AS found "
    "WHERE t.ctid = found.row) "
    "SELECT campaign_id FROM cur"
)
_HISTORY_READ = {"valid_from": "s.last_changed_at", "valid_to": "NULL::timestamptz"}
# $1 the applied campaign ids, $2 the notify channel.
_HISTORY_AND_EVENTS = (
    f"WITH hist AS (INSERT INTO campaign_history ({', '.join(_HISTORY_COLUMNS)}) "  # noqa: S608
    "SELECT "
    + ", ".join(_HISTORY_READ.get(n) or _read(campaign_history, n) for n in _HISTORY_COLUMNS)
    + f" FROM {_VERSIONS} AS s WHERE s.campaign_id = ANY($1::text[]) ORDER BY s.ord "  # noqa: S608
    "ON CONFLICT (provider, account, campaign_id, version) DO NOTHING), "
    f"ev AS (INSERT INTO campaign_events ({', '.join(_EVENT_COLUMNS)}) "
    f"SELECT {', '.join(_read(campaign_events, n) for n in _EVENT_COLUMNS)} "
    f"FROM {_EVENTS} AS s WHERE s.owner IS NULL OR s.owner = ANY($1::text[]) ORDER BY s.ord "
    "ON CONFLICT (event_id) DO NOTHING RETURNING id, type), "
    # NOTIFY only wakes listeners; the payload is the newest id, never the event.
    "note AS (SELECT pg_notify($2, max(id)::text) FROM ev HAVING count(*) > 0) "
    "SELECT type FROM ev UNION ALL SELECT NULL FROM note"
)


@dataclass(frozen=True, slots=True)
class StagedApply:
    """What the staged statements did: the campaigns moved, the event types inserted."""

    applied: frozenset[str]
    event_types: tuple[str, ...]


def _version_records(changes: Sequence[Change]) -> list[tuple[Any, ...]]:
    return [
        (ord_, ch.previous_version if ch.previous else None, *current_values(ch, json_text))
        for ord_, ch in enumerate(changes)
    ]


def _event_key(ev: ChangeEvent) -> tuple[Any, ...]:
    k = ev.key
    return (k.provider, k.account, k.campaign_id, ev.version, ev.occurred_at, ev.detected_at)


def _event_records(
    changes: Sequence[Change], drift: Sequence[ChangeEvent]
) -> list[tuple[Any, ...]]:
    owned = [(ch.campaign.campaign_id, ev) for ch in changes for ev in ch.events]
    events = [*owned, *((None, ev) for ev in drift)]
    return [
        (ord_, owner, ev.event_id, ev.type, *_event_key(ev), json_text(dict(ev.data)))
        for ord_, (owner, ev) in enumerate(events)
    ]


async def apply_staged(
    driver: asyncpg.Connection,
    target: TargetKey,
    changes: Sequence[Change],
    drift: Sequence[ChangeEvent],
) -> StagedApply:
    """Apply ``changes`` and ``drift`` in ``driver``'s open transaction (see the module
    docstring); the caller has fenced it and counts the run."""
    await driver.execute(_CREATE)
    if changes:
        await driver.copy_records_to_table(
            _VERSIONS, records=_version_records(changes), columns=_VERSION_STAGE
        )
    events = _event_records(changes, drift)
    if events:
        await driver.copy_records_to_table(_EVENTS, records=events, columns=_EVENT_STAGE)
    applied: list[str] = []
    if changes:
        rows = await driver.fetch(_UPSERT_AND_CLOSE, target.provider, target.account)
        applied = [row[0] for row in rows]
    types: list[str] = []
    if applied or drift:
        rows = await driver.fetch(_HISTORY_AND_EVENTS, applied, NOTIFY_CHANNEL)
        types = [row[0] for row in rows if row[0] is not None]
    return StagedApply(applied=frozenset(applied), event_types=tuple(types))
