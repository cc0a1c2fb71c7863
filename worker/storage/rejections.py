"""Quarantined records and failures in ``sync_errors``: redacted, deduplicated, counted."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from worker.domain.campaign import TargetKey, canonical_json
from worker.domain.poison import safe_payload, safe_text
from worker.domain.records import Rejection, RejectionKind, redact
from worker.storage.tables import sync_errors

__all__ = ["REASON_CHARS", "upsert_rejections"]

REASON_CHARS = 2000  # of a reason kept in sync_errors


async def upsert_rejections(
    conn: AsyncConnection,
    target: TargetKey,
    run_id: int,
    rejections: Sequence[Rejection],
    seen_at: datetime,
    secrets: Collection[str],
) -> None:
    """One row per distinct rejection; a repeat bumps ``occurrences`` and ``last_seen_at``."""
    rows: dict[str, dict[str, Any]] = {}
    for rej in rejections:
        # Whatever the provider sent, what is stored here is storable and bounded.
        # Secrets are blanked before anything is cut: a cut must never keep a secret's head.
        raw = redact(safe_payload(rej.raw, secrets=secrets), secrets)
        reason = safe_text(redact(rej.reason, secrets), REASON_CHARS)
        row = {
            "fingerprint": _fingerprint(target, rej, raw, reason),
            "provider": target.provider,
            "account": target.account,
            "kind": rej.kind.value,
            "campaign_id": None if rej.campaign_id is None else safe_text(rej.campaign_id),
            "field": safe_text(rej.field),
            "reason": reason,
            "raw": raw,
            "detail": redact(safe_payload(dict(rej.detail), secrets=secrets), secrets),
            "first_seen_at": seen_at,
            "last_seen_at": seen_at,
            "occurrences": 1,
            "last_run_id": run_id,
        }
        seen = rows.get(row["fingerprint"])
        if seen is not None:  # one statement may not touch a row twice: count it here
            row["occurrences"] = seen["occurrences"] + 1
        rows[row["fingerprint"]] = row
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
        list(rows.values()),
    )


def _fingerprint(target: TargetKey, rej: Rejection, raw: Any, reason: str) -> str:
    if rej.kind is RejectionKind.UNKNOWN_STATUS:
        # Noted once per value and target, whichever campaigns carry it.
        basis: Any = [str(target), rej.kind.value, rej.detail.get("status_raw")]
    else:
        basis = [str(target), rej.kind.value, rej.campaign_id, rej.field, reason, raw]
    return hashlib.sha256(canonical_json(basis).encode()).hexdigest()
