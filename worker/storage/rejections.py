"""Quarantined records and failures in ``sync_errors``: redacted, deduplicated, counted.

What is kept of each rejection, and what counts as the same one, is
``worker.domain.quarantine``; this module only stores it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from worker.domain.campaign import TargetKey
from worker.domain.quarantine import REASON_CHARS, keep_rejections
from worker.domain.records import Rejection
from worker.storage.tables import sync_errors

__all__ = ["REASON_CHARS", "upsert_rejections"]


async def upsert_rejections(
    conn: AsyncConnection,
    target: TargetKey,
    run_id: int,
    rejections: Sequence[Rejection],
    seen_at: datetime,
    secrets: Collection[str],
) -> None:
    """One row per distinct rejection; a repeat bumps ``occurrences`` and ``last_seen_at``."""
    rows = [
        {
            "fingerprint": kept.fingerprint,
            "provider": target.provider,
            "account": target.account,
            "kind": kept.kind.value,
            "campaign_id": kept.campaign_id,
            "field": kept.field,
            "reason": kept.reason,
            "raw": kept.raw,
            "detail": kept.detail,
            "first_seen_at": seen_at,
            "last_seen_at": seen_at,
            "occurrences": occurrences,
            "last_run_id": run_id,
        }
        # One statement may not touch a row twice: repeats within it are counted here.
        for kept, occurrences in keep_rejections(target, rejections, secrets)
    ]
    stmt = pg_insert(sync_errors)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["fingerprint"],
            set_={
                "last_seen_at": stmt.excluded.last_seen_at,
                "last_run_id": stmt.excluded.last_run_id,
                "occurrences": sync_errors.c.occurrences + stmt.excluded.occurrences,
            },
        ),
        rows,
    )
