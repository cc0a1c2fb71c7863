"""Set-based SQL for the page writer and the vanish pass, with plans that need no statistics.

A page's ids are bound as one array parameter, so a page of any size is one
statement. Each statement loops over those ids and looks every campaign up by
its full key (``provider, account, campaign_id``), one index probe per id,
whatever the table statistics say.

Why the shape matters: on a table that was never analyzed (a first sync, or a
server with autovacuum off), PostgreSQL guesses that ``provider = … AND
account = …`` matches about one row. A plain ``campaign_id = ANY(:ids)`` or a
join against ``unnest(:ids)`` is then planned as one scan of every row of the
target per statement, and a sync becomes quadratic. So:

* lookups run in ``LATERAL (… OFFSET 0)``: the ``OFFSET`` keeps the planner
  from flattening the subquery, so it stays a keyed probe per id. The page
  reads (heads, full states) go to the driver as prepared statements;
* updates find their rows that way, then update them by ``ctid`` alone, with no
  other condition on the updated table to misjudge. Only the target's lease
  holder writes its rows (its page transaction locks ``sync_targets`` first),
  so no row moves between the probe and the update.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Text, TextClause, literal, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from worker.domain.campaign import TargetKey
from worker.domain.diff import StoredState
from worker.ports import PageHeads
from worker.storage.rows import HEAD_COLUMNS, campaign_from_row, head_from_row
from worker.storage.views import campaigns

__all__ = [
    "campaign_heads",
    "campaign_states",
    "close_history",
    "int_array",
    "text_array",
    "update_by_campaign",
]


def text_array(values: Sequence[str]) -> Any:
    """A ``text[]`` bound parameter."""
    return literal(list(values), ARRAY(Text))


def int_array(values: Sequence[int]) -> Any:
    """An ``integer[]`` bound parameter."""
    return literal(list(values), ARRAY(Integer))


def update_by_campaign(
    table: str,
    assignments: str,
    keys: Mapping[str, str],
    *,
    match: str = "",
    returning: str = "",
) -> TextClause:
    """``UPDATE table`` for the rows keyed by arrays bound as ``:<key>`` (of the given types).

    ``keys`` must name ``campaign_id``; ``assignments`` and ``returning`` see the
    updated row as ``t`` and the key as ``k``; ``match`` adds conditions on the
    probed row ``x`` (e.g. its version). Binds ``:provider`` and ``:account``.
    """
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in keys.items())
    # Built from this package's constants only, never from input.
    sql = (
        f"UPDATE {table} AS t SET {assignments} "  # noqa: S608
        f"FROM unnest({arrays}) AS k({', '.join(keys)}) "
        f"CROSS JOIN LATERAL (SELECT x.ctid AS row FROM {table} AS x "
        "WHERE x.provider = :provider AND x.account = :account "
        f"AND x.campaign_id = k.campaign_id {match} OFFSET 0) AS found "
        "WHERE t.ctid = found.row"
    )
    return text(sql + (f" RETURNING {returning}" if returning else ""))


_CLOSE_HISTORY = update_by_campaign(
    "campaign_history",
    "valid_to = :at",
    {"campaign_id": "text", "version": "integer"},
    match="AND x.version = k.version AND x.valid_to IS NULL",
    returning="t.campaign_id, t.first_seen_at",
)


async def close_history(
    conn: AsyncConnection, target: TargetKey, keys: Sequence[tuple[str, int]], at: datetime
) -> dict[str, datetime]:
    """End the open history row of each (campaign id, version) at ``at``; others stay.
    Returns when each campaign whose row it closed was first seen."""
    if not keys:
        return {}
    closed = await conn.execute(
        _CLOSE_HISTORY,
        {
            "at": at,
            "campaign_id": [cid for cid, _ in keys],
            "version": [version for _, version in keys],
            "provider": target.provider,
            "account": target.account,
        },
    )
    return {cid: first_seen for cid, first_seen in closed.all()}


# Every page of every cycle reads through these, so they go to the driver as
# prepared statements: no SQLAlchemy statement building or result processing.
# $1 provider, $2 account, $3 the ids, $4 their list-item fingerprints (or NULLs).
_PROBE = (
    "FROM unnest($3::text[], $4::text[]) AS k(campaign_id, list_hash) CROSS JOIN LATERAL ("
    "SELECT * FROM campaigns AS c WHERE c.provider = $1 AND c.account = $2 "
    "AND c.campaign_id = k.campaign_id OFFSET 0) AS c"
)
# ``same``: the stored list item is the listed one, so the campaign is unchanged.
_HEADS = (
    f"SELECT {', '.join(f'c.{name}' for name in HEAD_COLUMNS)}, "
    "(c.list_hash = k.list_hash AND c.vanished_at IS NULL AND c.missed_listings = 0) "
    f"IS TRUE AS same {_PROBE}"
)
# Named columns, not ``c.*``: a column added by a later migration does not change
# the result type of a statement the driver has already prepared.
_STATES = f"SELECT {', '.join(f'c.{col.name}' for col in campaigns.columns)} {_PROBE}"


async def _probe(
    conn: AsyncConnection,
    sql: str,
    target: TargetKey,
    campaign_ids: Sequence[str],
    list_hashes: Sequence[str | None] | None = None,
) -> list[Any]:
    """Run one of the probes above on ``conn``'s driver connection.

    The driver runs it in ``conn``'s transaction once SQLAlchemy has begun it,
    that is after the transaction's first statement (the page writer's fence).
    """
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    hashes = list(list_hashes) if list_hashes is not None else [None] * len(campaign_ids)
    rows: list[Any] = await driver.fetch(
        sql, target.provider, target.account, list(campaign_ids), hashes
    )
    return rows


async def campaign_heads(
    conn: AsyncConnection,
    target: TargetKey,
    campaign_ids: Sequence[str],
    list_hashes: Sequence[str | None] | None = None,
) -> PageHeads:
    """Stored heads of ``campaign_ids`` (one query, two array parameters); see
    ``worker.ports.CampaignReader.heads`` and ``_probe``."""
    if not campaign_ids:
        return PageHeads({})
    rows = await _probe(conn, _HEADS, target, campaign_ids, list_hashes)
    unchanged = frozenset(row["campaign_id"] for row in rows if row["same"])
    heads = {row["campaign_id"]: head_from_row(row) for row in rows if not row["same"]}
    return PageHeads(heads, unchanged)


async def campaign_states(
    conn: AsyncConnection, target: TargetKey, campaign_ids: Sequence[str]
) -> Mapping[str, StoredState]:
    """Stored current versions of ``campaign_ids`` in full (one query)."""
    if not campaign_ids:
        return {}
    rows = await _probe(conn, _STATES, target, campaign_ids)
    return {
        row["campaign_id"]: StoredState(head=head_from_row(row), campaign=campaign_from_row(row))
        for row in rows
    }
