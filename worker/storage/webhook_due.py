"""Which webhook deliveries are due: the query every sender claims from.

A delivery is *due* when it is pending, its next attempt time has come, no
sender holds its claim, and it is the oldest pending delivery of its campaign
for that sink (so each campaign's events arrive in order, while a slow campaign
holds back only itself). Its time has also come *early* when its last attempt
failed before the sink's last success (``early_after < last_success_at``): a
receiver that answers again is healthy, so what failed during its outage need
not wait for its retry slot. Oldest event first, locked ``SKIP LOCKED``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, exists, or_, select, tuple_

from worker.storage.tables import webhook_deliveries, webhook_sinks

__all__ = ["due_deliveries"]

d = webhook_deliveries


def due_deliveries(sink: str, *, now: datetime, limit: int) -> Select[tuple[object, ...]]:
    """Up to ``limit`` of the sink's due deliveries at ``now``, one per campaign, each
    with ``early``: whether a later success of the sink brought it forward."""
    earlier = d.alias("earlier")
    blocked = exists().where(
        earlier.c.sink == d.c.sink,
        earlier.c.provider == d.c.provider,
        earlier.c.account == d.c.account,
        earlier.c.campaign_id == d.c.campaign_id,
        earlier.c.status == "pending",
        tuple_(earlier.c.event_xid, earlier.c.event_row) < tuple_(d.c.event_xid, d.c.event_row),
    )
    last_success = (
        select(webhook_sinks.c.last_success_at)
        .where(webhook_sinks.c.name == sink)
        .scalar_subquery()
    )
    early = and_(d.c.next_attempt_at > now, d.c.early_after < last_success)
    return (
        select(
            d.c.id,
            d.c.event_id,
            d.c.body,
            d.c.attempts,
            d.c.campaign_id,
            d.c.next_attempt_at,
            early.label("early"),
        )
        .where(
            d.c.sink == sink,
            d.c.status == "pending",
            or_(d.c.next_attempt_at <= now, early),
            or_(d.c.locked_until.is_(None), d.c.locked_until <= now),
            ~blocked,
        )
        .order_by(d.c.event_xid, d.c.event_row)
        .limit(limit)
        .with_for_update(skip_locked=True, of=d)
    )
