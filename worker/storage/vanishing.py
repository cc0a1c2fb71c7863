"""Writing misses and vanishes: the stored side of ``worker.domain.diff.miss``.

A vanish is a version: the open history row of the version it was computed
from closes at that instant (if it is still open), and a copy of it, with the
new version number, ``vanished_at`` and the count of listings missed, opens.
The copy is made in SQL, so no stored row is read into Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import DateTime, cast, func, insert, literal, null, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from worker.domain.campaign import TargetKey
from worker.domain.diff import Miss
from worker.storage.sql import close_history, int_array, text_array, update_by_campaign
from worker.storage.tables import campaign_history

__all__ = ["count_misses", "vanish"]

# Columns a vanished version copies from the version before it.
_COPIED = tuple(
    c.name
    for c in campaign_history.columns
    if c.name not in {"id", "version", "valid_from", "valid_to", "vanished_at", "missed_listings"}
)
_COUNT_MISSES = update_by_campaign(
    "campaign_history",
    "missed_listings = k.missed",
    {"campaign_id": "text", "missed": "integer"},
    match="AND x.valid_to IS NULL",
)


async def count_misses(conn: AsyncConnection, target: TargetKey, misses: Sequence[Miss]) -> None:
    """Store each campaign's new count of listings in a row that lacked it."""
    await conn.execute(
        _COUNT_MISSES,
        {
            "campaign_id": [m.key.campaign_id for m in misses],
            "missed": [m.missed_listings for m in misses],
            "provider": target.provider,
            "account": target.account,
        },
    )


async def vanish(
    conn: AsyncConnection, target: TargetKey, vanishing: Sequence[Miss], at: datetime
) -> list[Miss]:
    """Write the vanished versions; returns those applied (the stored version still matched)."""
    if not vanishing:
        return []
    by_id = {m.key.campaign_id: m for m in vanishing}
    # Only over the version the miss was computed from.
    closed = await close_history(
        conn, target, [(m.key.campaign_id, m.version - 1) for m in vanishing], at
    )
    done = [by_id[cid] for cid in by_id if cid in closed]
    if not done:
        return []
    added = (
        func.unnest(
            text_array([m.key.campaign_id for m in done]),
            int_array([m.version for m in done]),
            int_array([m.missed_listings for m in done]),
        )
        .table_valued("campaign_id", "version", "missed")
        .render_derived(name="k")
    )
    previous = (
        select(campaign_history)
        .where(
            campaign_history.c.provider == target.provider,
            campaign_history.c.account == target.account,
            campaign_history.c.campaign_id == added.c.campaign_id,
            campaign_history.c.version == added.c.version - 1,
        )
        .offset(0)  # a keyed probe per campaign (see worker.storage.sql)
        .lateral("previous")
    )
    stamp = cast(literal(at), DateTime(timezone=True))
    await conn.execute(
        insert(campaign_history).from_select(
            [*_COPIED, "version", "missed_listings", "valid_from", "valid_to", "vanished_at"],
            select(
                *(previous.c[name] for name in _COPIED),
                added.c.version,
                added.c.missed,
                stamp,
                cast(null(), DateTime(timezone=True)),
                stamp,
            )
            .select_from(added)
            .join(previous, true()),
        )
    )
    return done
