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

from sqlalchemy import DateTime, cast, insert, literal, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from worker.domain.campaign import TargetKey
from worker.domain.diff import Miss
from worker.storage.sql import close_history, int_array, of_target, text_array, unnest
from worker.storage.tables import campaign_history, campaigns

__all__ = ["count_misses", "vanish"]

# Columns a vanished version copies from the version before it.
_COPIED = tuple(
    c.name
    for c in campaign_history.columns
    if c.name not in {"id", "version", "valid_from", "valid_to", "vanished_at"}
)


async def count_misses(conn: AsyncConnection, target: TargetKey, misses: Sequence[Miss]) -> None:
    """Store each campaign's new count of listings in a row that lacked it."""
    k = unnest(
        cid=text_array([m.key.campaign_id for m in misses]),
        missed=int_array([m.missed_listings for m in misses]),
    )
    await conn.execute(
        update(campaigns).where(*of_target(target, k.c.cid)).values(missed_listings=k.c.missed)
    )


async def vanish(
    conn: AsyncConnection, target: TargetKey, vanishing: Sequence[Miss], at: datetime
) -> list[Miss]:
    """Write the vanished versions; returns those applied (the stored version still matched)."""
    if not vanishing:
        return []
    by_id = {m.key.campaign_id: m for m in vanishing}
    k = unnest(
        cid=text_array(list(by_id)),
        version=int_array([m.version for m in vanishing]),
        missed=int_array([m.missed_listings for m in vanishing]),
    )
    moved = await conn.execute(
        update(campaigns)
        .where(*of_target(target, k.c.cid), campaigns.c.version == k.c.version - 1)
        .values(version=k.c.version, vanished_at=at, last_changed_at=at, missed_listings=k.c.missed)
        .returning(campaigns.c.campaign_id)
    )
    done = [by_id[cid] for cid in moved.scalars().all()]
    if not done:
        return []
    await close_history(conn, target, [(m.key.campaign_id, m.version - 1) for m in done], at)
    keys = unnest(
        campaign_id=text_array([m.key.campaign_id for m in done]),
        version=int_array([m.version for m in done]),
    )
    stamp = cast(literal(at), DateTime(timezone=True))
    await conn.execute(
        insert(campaign_history).from_select(
            [*_COPIED, "version", "valid_from", "valid_to", "vanished_at"],
            select(
                *(campaign_history.c[name] for name in _COPIED),
                keys.c.version,
                stamp,
                cast(null(), DateTime(timezone=True)),
                stamp,
            ).where(
                campaign_history.c.provider == target.provider,
                campaign_history.c.account == target.account,
                campaign_history.c.campaign_id == keys.c.campaign_id,
                campaign_history.c.version == keys.c.version - 1,
            ),
        )
    )
    return done
