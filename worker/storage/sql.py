"""Set-based SQL shared by the page writer and the vanish pass: arrays bound as one
parameter (a page of any size is one statement), and history rows closed by exact version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Text, any_, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from worker.domain.campaign import TargetKey
from worker.domain.diff import StoredHead, StoredState
from worker.storage.rows import HEAD_COLUMNS, campaign_from_row, head_from_row
from worker.storage.tables import campaigns

__all__ = [
    "campaign_heads",
    "campaign_states",
    "close_history",
    "int_array",
    "of_target",
    "text_array",
    "unnest",
]

_CLOSE_HISTORY = text(
    "UPDATE campaign_history AS h SET valid_to = :at "
    "FROM unnest(CAST(:ids AS text[]), CAST(:versions AS integer[])) AS k(campaign_id, version) "
    "WHERE h.provider = :provider AND h.account = :account "
    "AND h.campaign_id = k.campaign_id AND h.version = k.version AND h.valid_to IS NULL"
)


def text_array(values: Sequence[str]) -> Any:
    """A ``text[]`` bound parameter."""
    return literal(list(values), ARRAY(Text))


def int_array(values: Sequence[int]) -> Any:
    """An ``integer[]`` bound parameter."""
    return literal(list(values), ARRAY(Integer))


def unnest(**arrays: Any) -> Any:
    """``SELECT unnest(a) AS a, unnest(b) AS b …`` as a subquery: arrays zipped into rows."""
    return select(*(func.unnest(array).label(name) for name, array in arrays.items())).subquery()


def of_target(target: TargetKey, campaign_id: Any) -> list[Any]:
    """The ``campaigns`` row(s) of ``target`` whose id equals ``campaign_id`` (a column too)."""
    return [
        campaigns.c.provider == target.provider,
        campaigns.c.account == target.account,
        campaigns.c.campaign_id == campaign_id,
    ]


async def close_history(
    conn: AsyncConnection, target: TargetKey, keys: Sequence[tuple[str, int]], at: datetime
) -> None:
    """End the open history row of each (campaign id, version) at ``at``; others stay."""
    if not keys:
        return
    await conn.execute(
        _CLOSE_HISTORY,
        {
            "at": at,
            "ids": [cid for cid, _ in keys],
            "versions": [version for _, version in keys],
            "provider": target.provider,
            "account": target.account,
        },
    )


async def campaign_heads(
    conn: AsyncConnection, target: TargetKey, campaign_ids: Sequence[str]
) -> Mapping[str, StoredHead]:
    """Stored heads of ``campaign_ids`` (one query, one array parameter)."""
    if not campaign_ids:
        return {}
    rows = await conn.execute(
        select(*(campaigns.c[name] for name in HEAD_COLUMNS)).where(
            *of_target(target, any_(text_array(campaign_ids)))
        )
    )
    return {row.campaign_id: head_from_row(row) for row in rows}


async def campaign_states(
    conn: AsyncConnection, target: TargetKey, campaign_ids: Sequence[str]
) -> Mapping[str, StoredState]:
    """Stored current versions of ``campaign_ids`` in full (one query)."""
    if not campaign_ids:
        return {}
    rows = await conn.execute(
        select(campaigns).where(*of_target(target, any_(text_array(campaign_ids))))
    )
    return {
        row.campaign_id: StoredState(head=head_from_row(row), campaign=campaign_from_row(row))
        for row in rows
    }
