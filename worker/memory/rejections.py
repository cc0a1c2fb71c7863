"""Quarantined records and failures, in memory: the rows of ``sync_errors``.

What is kept of each rejection, and what counts as the same one, is
``worker.domain.quarantine``, as for PostgreSQL (``worker.storage.rejections``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime

from worker.domain.campaign import TargetKey
from worker.domain.quarantine import keep_rejections
from worker.domain.records import Rejection
from worker.memory.tables import ErrorRow, MemoryState, Transaction

__all__ = ["keep_rejections_in"]


def keep_rejections_in(
    tx: Transaction,
    state: MemoryState,
    target: TargetKey,
    run_id: int,
    rejections: Sequence[Rejection],
    seen_at: datetime,
    secrets: Collection[str],
) -> None:
    """One row per distinct rejection; a repeat bumps ``occurrences`` and ``last_seen_at``."""
    for kept, occurrences in keep_rejections(target, rejections, secrets):
        row_id = state.next_id("errors")  # taken even by a repeat, as a sequence is
        seen = tx.get(state.errors, kept.fingerprint)
        if seen is None:
            seen = ErrorRow(
                id=row_id,
                target=target,
                kept=kept,
                first_seen_at=seen_at,
                last_seen_at=seen_at,
                occurrences=occurrences,
                last_run_id=run_id,
            )
        else:
            seen = replace(
                seen,
                last_seen_at=seen_at,
                last_run_id=run_id,
                occurrences=seen.occurrences + occurrences,
            )
        tx.put(state.errors, kept.fingerprint, seen)
