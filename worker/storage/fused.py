"""A page's new versions and events: two statements of bound arrays, or COPY.

The current version of a campaign is its open history row (``campaigns`` is a
view of those, migration 0010), so a new version is one row:

1. insert the history rows of the new campaigns (version 1) from one array per
   column, skipping any already stored; and close exactly the open rows the
   changes were computed from (``version = new - 1``, still open). Both return
   the campaigns they moved, with when each was first seen;
2. insert the moved changed campaigns' new history rows (first seen as their
   closed row says), the events of the applied changes plus the schema-drift
   events, then ``pg_notify`` the newest event id when any was inserted.

A page of ``copy_from`` (100) or more new campaigns and no changed one (an
initial sync's) sends their history rows and events by binary COPY instead, in a
savepoint: measured at 1000 a page, a third less time and client CPU than the
arrays (no per-element array checks, no ``unnest``); a smaller page keeps the
single statement, as the COPY costs a savepoint and two more round trips. COPY
cannot skip a row already stored, so a unique violation rolls the savepoint
back and the arrays store the page, which skip it as before. A page with
changed campaigns keeps the arrays, so its events keep the caller's order.

A changed campaign's new row waits for the second statement because
``ux_campaign_history_current`` allows one open row per campaign and the parts
of one statement see one snapshot (its old row is closed by the first). Each
version crosses the wire once: the new campaigns' in the first statement, the
changed ones' in the second. Rows and serial ids are taken in the caller's order
within each statement (so a batch's new campaigns' history ids come before its
changed ones'); ``tests/storage/test_set_based_writes.py`` checks the rows
against the per-table inserts of ``worker.storage.bulk``, the equivalence test
against the rows stored before issue 19. Lookups are keyed probes per id
(``LATERAL … OFFSET 0``, see ``worker.storage.sql``), so no plan depends on
table statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from worker.domain.campaign import TargetKey
from worker.domain.diff import Change
from worker.domain.events import ChangeEvent
from worker.storage.engine import json_text
from worker.storage.rows import NEW_VERSION_COLUMNS, new_version_values
from worker.storage.tables import NOTIFY_CHANNEL, campaign_events, campaign_history

__all__ = ["COPY_FROM", "FusedApply", "apply_fused"]

COPY_FROM = 100

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_NEW = NEW_VERSION_COLUMNS
_EVENTS = (
    "event_id", "type", "provider", "account", "campaign_id", "version",
    "occurred_at", "detected_at", "data",
)  # fmt: skip


def _unnest(table: Table, names: Sequence[str], first: int, alias: str) -> str:
    """``unnest`` of one bound array per column, in order, as ``alias(names…, ord)``."""
    arrays = ", ".join(
        f"${i}::{table.c[name].type.compile(dialect=_DIALECT)}[]"
        for i, name in enumerate(names, first)
    )
    return f"unnest({arrays}) WITH ORDINALITY AS {alias}({', '.join(names)}, ord)"


# All SQL below is built from table metadata and constants only, never from input.
# $1 provider, $2 account, $3 … one array per new column of the new campaigns, then the
# changed campaigns' ids, the versions they were computed from, and their closing times.
_CLOSING = len(_NEW) + 3
_FRESH_AND_CLOSE = (
    f"WITH fresh AS (INSERT INTO campaign_history ({', '.join(_NEW)}) "  # noqa: S608
    f"SELECT {', '.join(_NEW)} FROM {_unnest(campaign_history, _NEW, 3, 'u')} ORDER BY ord "
    # Any conflict: the campaign is stored already (a new campaign never overwrites one).
    "ON CONFLICT DO NOTHING RETURNING campaign_id, first_seen_at), "
    "closed AS (UPDATE campaign_history AS t SET valid_to = k.at "
    f"FROM unnest(${_CLOSING}::text[], ${_CLOSING + 1}::integer[], "
    f"${_CLOSING + 2}::timestamptz[]) AS k(campaign_id, version, at) "
    "CROSS JOIN LATERAL (SELECT x.ctid AS row FROM campaign_history AS x "
    "WHERE x.provider = $1 AND x.account = $2 AND x.campaign_id = k.campaign_id "
    "AND x.version = k.version AND x.valid_to IS NULL OFFSET 0) AS found "
    "WHERE t.ctid = found.row RETURNING t.campaign_id, t.first_seen_at) "
    "SELECT campaign_id, first_seen_at FROM fresh "
    "UNION ALL SELECT campaign_id, first_seen_at FROM closed"
)
# $1 … one array per new column of the moved changed campaigns, then the notify
# channel, then one array per event column.
_CHANNEL = len(_NEW) + 1
_HISTORY_AND_EVENTS = (
    f"WITH hist AS (INSERT INTO campaign_history ({', '.join(_NEW)}) "  # noqa: S608
    f"SELECT {', '.join(_NEW)} FROM {_unnest(campaign_history, _NEW, 1, 'h')} ORDER BY ord), "
    f"ev AS (INSERT INTO campaign_events ({', '.join(_EVENTS)}) "
    f"SELECT {', '.join(_EVENTS)} FROM {_unnest(campaign_events, _EVENTS, _CHANNEL + 1, 'e')} "
    "ORDER BY ord ON CONFLICT (event_id) DO NOTHING RETURNING id, type), "
    # NOTIFY only wakes listeners; the payload is the newest id, never the event.
    f"note AS (SELECT pg_notify(${_CHANNEL}, max(id)::text) FROM ev HAVING count(*) > 0) "
    "SELECT type FROM ev UNION ALL SELECT NULL FROM note"
)
# After a COPY that no second statement follows: wake listeners with the newest id.
_NOTIFY = "SELECT pg_notify($1, currval(pg_get_serial_sequence('campaign_events', 'id'))::text)"


@dataclass(frozen=True, slots=True)
class FusedApply:
    """What the two statements did: the campaigns moved, the event types inserted."""

    applied: frozenset[str]
    event_types: tuple[str, ...]


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[Sequence[Any]]:
    """Rows as one sequence per column (``width`` empty ones for no rows)."""
    return list(zip(*rows, strict=True)) if rows else [()] * width


def _event_rows(events: Sequence[ChangeEvent]) -> list[tuple[Any, ...]]:
    return [
        (ev.event_id, ev.type, ev.key.provider, ev.key.account, ev.key.campaign_id,
         ev.version, ev.occurred_at, ev.detected_at, json_text(dict(ev.data)))
        for ev in events
    ]  # fmt: skip


async def _copied(driver: asyncpg.Connection, fresh: Sequence[Change]) -> bool:
    """COPY the new campaigns' rows and events in a savepoint; False (nothing written)
    when one of them was stored already."""
    try:
        async with driver.transaction():
            await driver.copy_records_to_table(
                campaign_history.name,
                records=[new_version_values(ch, ch.observed_at, json_text) for ch in fresh],
                columns=_NEW,
            )
            await driver.copy_records_to_table(
                campaign_events.name,
                records=_event_rows([ev for ch in fresh for ev in ch.events]),
                columns=_EVENTS,
            )
    except asyncpg.UniqueViolationError:
        return False
    return True


async def apply_fused(
    driver: asyncpg.Connection,
    target: TargetKey,
    changes: Sequence[Change],
    drift: Sequence[ChangeEvent],
    *,
    copy_from: int = COPY_FROM,
) -> FusedApply:
    """Apply ``changes`` and ``drift`` in ``driver``'s open transaction (see the module
    docstring); the caller has fenced it and counts the run."""
    fresh = [ch for ch in changes if ch.previous is None]
    changed = [ch for ch in changes if ch.previous is not None]
    first_seen: dict[str, datetime] = {}
    copied: list[Change] = []
    # Only a page of new campaigns alone: its events keep the order the arrays give them.
    if not changed and len(fresh) >= max(copy_from, 1) and await _copied(driver, fresh):
        copied, fresh = fresh, []
        first_seen = {ch.campaign.campaign_id: ch.observed_at for ch in copied}
    if fresh or changed:
        rows = await driver.fetch(
            _FRESH_AND_CLOSE,
            target.provider,
            target.account,
            *_columns(
                [new_version_values(ch, ch.observed_at, json_text) for ch in fresh], len(_NEW)
            ),
            [ch.campaign.campaign_id for ch in changed],
            [ch.previous_version for ch in changed],
            [ch.observed_at for ch in changed],
        )
        first_seen.update((row[0], row[1]) for row in rows)
    kept = [ch for ch in changes if ch.campaign.campaign_id in first_seen]
    pending = [] if copied else kept  # what the COPY did not store
    events = [*(ev for ch in pending for ev in ch.events), *drift]
    copied_types = [ev.type for ch in copied for ev in ch.events]
    types: list[str] = []
    if pending or events:
        moved = [
            new_version_values(ch, first_seen[ch.campaign.campaign_id], json_text)
            for ch in changed
            if ch.campaign.campaign_id in first_seen
        ]
        rows = await driver.fetch(
            _HISTORY_AND_EVENTS,
            *_columns(moved, len(_NEW)),
            NOTIFY_CHANNEL,
            *_columns(_event_rows(events), len(_EVENTS)),
        )
        types = [row[0] for row in rows if row[0] is not None]
    elif copied_types:
        await driver.execute(_NOTIFY, NOTIFY_CHANNEL)
    return FusedApply(applied=frozenset(first_seen), event_types=(*copied_types, *types))
