"""Writing misses and vanishes: the stored side of ``worker.domain.diff.miss``.

A vanish is a version: the current row moves to the new version (guarded by
the version it was computed from) with ``vanished_at`` set; the open history
row closes at that instant, and a copy of it, with the new version number and
``vanished_at``, opens. The copy is made in SQL, so no stored row is read into
Python.
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
    if c.name not in {"id", "version", "valid_from", "valid_to", "vanished_at"}
)
_COUNT_MISSES = update_by_campaign(
    "campaigns", "missed_listings = k.missed", {"campaign_id": "text", "missed": "integer"}
)
# Only over the version the miss was computed from.
_VANISH = update_by_campaign(
    "campaigns",
    "version = k.version, vanished_at = :at, last_changed_at = :at, missed_listings = k.missed",
    {"campaign_id": "text", "version": "integer", "missed": "integer"},
    match="AND x.version = k.version - 1",
    returning="t.campaign_id",
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
    moved = await conn.execute(
        _VANISH,
        {
            "at": at,
            "campaign_id": list(by_id),
            "version": [m.version for m in by_id.values()],
            "missed": [m.missed_listings for m in by_id.values()],
            "provider": target.provider,
            "account": target.account,
        },
    )
    done = [by_id[cid] for cid in moved.scalars().all()]
    if not done:
        return []
    await close_history(conn, target, [(m.key.campaign_id, m.version - 1) for m in done], at)
    keys = (
        func.unnest(
            text_array([m.key.campaign_id for m in done]), int_array([m.version for m in done])
        )
        .table_valued("campaign_id", "version")
        .render_derived(name="k")
    )
    previous = (
        select(campaign_history)
        .where(
            campaign_history.c.provider == target.provider,
            campaign_history.c.account == target.account,
            campaign_history.c.campaign_id == keys.c.campaign_id,
            campaign_history.c.version == keys.c.version - 1,
        )
        .offset(0)  # a keyed probe per campaign (see worker.storage.sql)
        .lateral("previous")
    )
    stamp = cast(literal(at), DateTime(timezone=True))
    await conn.execute(
        insert(campaign_history).from_select(
            [*_COPIED, "version", "valid_from", "valid_to", "vanished_at"],
            select(
                *(previous.c[name] for name in _COPIED),
                keys.c.version,
                stamp,
                cast(null(), DateTime(timezone=True)),
                stamp,
            )
            .select_from(keys)
            .join(previous, true()),
        )
    )
    return done
