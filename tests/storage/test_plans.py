"""Per-page statements stay keyed probes on a table that was never analyzed.

Reproduced for issue 10: on a server with no statistics yet (a first sync, or
autovacuum off), ``campaign_id = ANY(:ids)`` was planned as a scan of every row
of the target per page, and a 100 000-campaign first sync went quadratic. Here
the tables hold thousands of rows nobody analyzed; each statement a page sends
must reach ``campaign_history`` (and ``campaigns``, the view of its open rows) through
an index only. (The
quadratic plan itself appeared only as a 100 000-row sync grew; at this size
PostgreSQL may still pick an index for the old forms, so this guards the plan
shape of today's statements, and the bench guards the time.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine

from worker.storage.sql import _CLOSE_HISTORY, _HEADS, _STATES
from worker.storage.vanishing import _COUNT_MISSES
from worker.storage.writer import _LISTED_AGAIN

N = 5000
AT = datetime(2026, 3, 2, tzinfo=UTC)
IDS = [f"c{i}" for i in range(0, N, N // 100)]  # one page of ids

_FILL = """
INSERT INTO {table} (provider, account, campaign_id, version, status, status_raw, raw,
                     content_hash, {times})
SELECT 'vox_v3', 'acme', 'c' || i, 1, 'running', 'ongoing', '{{}}'::jsonb, 'h', {values}
FROM generate_series(0, :n - 1) AS i
"""


def _scans(plan: Any) -> list[tuple[str, str]]:
    """(node type, relation) of every node of a JSON plan."""
    found = [(plan["Node Type"], plan.get("Relation Name", ""))]
    for child in plan.get("Plans", ()):
        found += _scans(child)
    return found


def _sequential(scans: list[tuple[str, str]]) -> list[str]:
    return [rel for node, rel in scans if node == "Seq Scan" and rel.startswith("campaign")]


async def test_page_statements_probe_by_key_without_statistics(engine: AsyncEngine) -> None:
    # Rolled back at the end: the filler rows keep none of the tables' promises.
    async with engine.connect() as conn, conn.begin() as transaction:
        await conn.execute(
            text(
                _FILL.format(
                    table="campaign_history", times="valid_from, first_seen_at", values=":at, :at"
                )
            ),
            {"n": N, "at": AT},
        )
        analyzed = await conn.execute(
            text("SELECT count(*) FROM pg_stat_user_tables WHERE relname LIKE 'campaign%' "
                 "AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)")
        )  # fmt: skip
        assert analyzed.scalar_one() == 0  # the condition under test: no statistics

        driver = (await conn.get_raw_connection()).driver_connection
        for sql in (_HEADS, _STATES):
            (row,) = await driver.fetch(
                f"EXPLAIN (FORMAT JSON) {sql}", "vox_v3", "acme", IDS, [None] * len(IDS)
            )
            explained = row[0] if isinstance(row[0], list) else json.loads(row[0])
            plan = explained[0]["Plan"]
            assert _sequential(_scans(plan)) == [], sql

        keyed = {"provider": "vox_v3", "account": "acme", "campaign_id": IDS}
        updates: list[tuple[TextClause, dict[str, Any]]] = [
            (_CLOSE_HISTORY, keyed | {"at": AT, "version": [1] * len(IDS)}),
            (_COUNT_MISSES, keyed | {"missed": [1] * len(IDS)}),
            (_LISTED_AGAIN, keyed),
        ]
        for statement, params in updates:
            explained = await conn.execute(text(f"EXPLAIN (FORMAT JSON) {statement.text}"), params)
            plan = explained.scalar_one()[0]["Plan"]
            assert _sequential(_scans(plan)) == [], statement.text
        await transaction.rollback()


async def test_a_probe_is_planned_for_its_own_ids_every_time(engine: AsyncEngine) -> None:
    # Reproduced for issue 19: a probe the driver prepared while ``campaign_history`` was
    # nearly empty kept PostgreSQL's cached generic plan, one that scanned the table for
    # each id, as the table grew; a VOXO first sync of 100 000 campaigns, reading its
    # heads page by page, spent 214 s of server CPU on it. The engine's connections plan
    # every execution afresh (``plan_cache_mode``), so statistics and table size count.
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        for _ in range(8):  # PostgreSQL weighs a generic plan from the sixth execution on
            await driver.fetch(_HEADS, "vox_v3", "acme", IDS, [None] * len(IDS))
        generic = await driver.fetchval(
            "SELECT sum(generic_plans) FROM pg_prepared_statements WHERE statement = $1", _HEADS
        )
    assert generic == 0
