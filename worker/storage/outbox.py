"""Reading the event outbox in a gap-free order: the one rule every reader follows.

A ``bigserial`` id is taken when a row is inserted but becomes visible when its
transaction commits, so reading ``id > cursor`` skips an event whose
transaction took a smaller id and committed later. Here each event carries its
transaction's id (``xid8``) and readers follow the order ``(xid, id)``, passing
only events whose transaction is older than every transaction still running
(``xid < pg_snapshot_xmin(pg_current_snapshot())``). Such a transaction has
ended, so everything it wrote is visible, and nothing can still appear before a
position once a reader has passed it.

The price: while a write transaction is open anywhere on the server, readers
see nothing it (or anything after it) wrote; their latency is bounded by the
longest open transaction, which for the worker is one page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from worker.domain.campaign import CampaignKey
from worker.domain.events import ChangeEvent, EventKind
from worker.ports import OutboxEvent, Position
from worker.storage.tables import campaign_events
from worker.storage.xid8 import XID8

__all__ = ["event_from_row", "position_after_event", "position_before_time", "read_after"]

# Only what every transaction still running could not precede.
_SETTLED = campaign_events.c.xid < func.pg_snapshot_xmin(func.pg_current_snapshot())


def _after(position: Position) -> Any:
    xid = cast(literal(str(position.xid), Text), XID8())
    return tuple_(campaign_events.c.xid, campaign_events.c.id) > tuple_(xid, position.id)


async def read_after(
    conn: AsyncConnection,
    position: Position,
    *,
    limit: int,
    types: Sequence[str] | None = None,
    providers: Sequence[str] | None = None,
) -> tuple[list[OutboxEvent], Position]:
    """Settled events after ``position`` in outbox order, and how far the read got.

    Filters apply after the scan: the returned position passes non-matching
    events too, so a narrow reader does not rescan them.
    """
    rows = (
        await conn.execute(
            select(campaign_events)
            .where(_after(position), _SETTLED)
            .order_by(campaign_events.c.xid, campaign_events.c.id)
            .limit(limit)
        )
    ).all()
    if not rows:
        return [], position
    last = rows[-1]
    found = [
        event_from_row(r._mapping)
        for r in rows
        if (types is None or r.type in types) and (providers is None or r.provider in providers)
    ]
    return found, Position(xid=int(last.xid), id=int(last.id))


async def position_after_event(conn: AsyncConnection, event_row_id: int) -> Position | None:
    """The position of the event with this outbox id (a reader resumes after it)."""
    row = (
        await conn.execute(
            select(campaign_events.c.xid, campaign_events.c.id).where(
                campaign_events.c.id == event_row_id
            )
        )
    ).first()
    return None if row is None else Position(xid=int(row.xid), id=int(row.id))


async def position_before_time(conn: AsyncConnection, when: datetime) -> Position:
    """The position just before the first event detected at or after ``when``."""
    row = (
        await conn.execute(
            select(campaign_events.c.xid, campaign_events.c.id)
            .where(campaign_events.c.detected_at >= when)
            .order_by(campaign_events.c.xid, campaign_events.c.id)
            .limit(1)
        )
    ).first()
    if row is None:  # nothing yet: start after everything there is
        last = (
            await conn.execute(
                select(campaign_events.c.xid, campaign_events.c.id)
                .order_by(campaign_events.c.xid.desc(), campaign_events.c.id.desc())
                .limit(1)
            )
        ).first()
        return Position() if last is None else Position(xid=int(last.xid), id=int(last.id))
    return Position(xid=int(row.xid), id=int(row.id) - 1)


def event_from_row(row: Any) -> OutboxEvent:
    """An outbox row as the event it stores, with its position."""
    event = ChangeEvent(
        event_id=str(row["event_id"]),
        kind=EventKind.of_type(row["type"]),
        key=CampaignKey(
            provider=row["provider"], account=row["account"], campaign_id=row["campaign_id"]
        ),
        version=row["version"],
        occurred_at=row["occurred_at"],
        detected_at=row["detected_at"],
        data=row["data"],
    )
    return OutboxEvent(
        position=Position(xid=int(row["xid"]), id=int(row["id"])),
        row_id=int(row["id"]),
        event=event,
    )


_ = XID8  # the column type this module's casts mirror
