"""Webhook delivery state: one row per (sink, event), claimed briefly by one sender.

Which deliveries are due, and in what order, is :mod:`worker.storage.webhook_due`.
An early attempt that fails keeps its slot and its attempt count; a failure that
came with a Retry-After is never brought forward. Claims are taken with
``FOR UPDATE SKIP LOCKED`` and last ``hold`` seconds, so replicas never send one
attempt at once, and a sender that dies mid-attempt loses its claim to the next one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from worker.config.secret_urls import printable_url
from worker.domain.events import to_cloudevent
from worker.ports import DeadLetter, DueDelivery, OutboxEvent, SinkState
from worker.storage.engine import storage_errors
from worker.storage.tables import webhook_deliveries, webhook_sinks
from worker.storage.webhook_due import due_deliveries

__all__ = ["PostgresWebhooks"]

d = webhook_deliveries


class PostgresWebhooks:
    """The WebhookStore port on PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def register(self, sink: str, url: str, now: datetime) -> SinkState:
        """Create the sink's row (or update its URL) and return its state.

        The row holds the URL as it may be printed (the reader role reads this
        table): a URL given by reference keeps only its origin.
        """
        url = printable_url(url)
        with storage_errors(f"registering webhook sink {sink!r}"):
            async with self.engine.begin() as conn:
                stmt = pg_insert(webhook_sinks).values(name=sink, url=url, created_at=now)
                await conn.execute(
                    stmt.on_conflict_do_update(index_elements=["name"], set_={"url": url})
                )
                row = (
                    await conn.execute(select(webhook_sinks).where(webhook_sinks.c.name == sink))
                ).one()
        return _state(row)

    async def state(self, sink: str) -> SinkState:
        """The sink's current state."""
        with storage_errors(f"reading webhook sink {sink!r}"):
            async with self.engine.connect() as conn:
                row = (
                    await conn.execute(select(webhook_sinks).where(webhook_sinks.c.name == sink))
                ).one()
        return _state(row)

    async def enqueue(
        self, sink: str, events: Sequence[OutboxEvent], *, now: datetime, dead: bool
    ) -> int:
        """Add one delivery per event (once: a repeat is ignored); ``dead`` while disabled."""
        if not events:
            return 0
        rows = [
            {
                "sink": sink,
                "event_id": e.event.event_id,
                "event_xid": e.position.xid,  # asyncpg sends an int as xid8
                "event_row": e.position.id,
                "provider": e.event.key.provider,
                "account": e.event.key.account,
                "campaign_id": e.event.key.campaign_id,
                "type": e.event.type,
                "body": json.dumps(to_cloudevent(e.event, position=e.row_id), ensure_ascii=False),
                "status": "dead" if dead else "pending",
                "next_attempt_at": now,
                "created_at": now,
                "dead_at": now if dead else None,
                "last_error": "the endpoint is disabled" if dead else None,
            }
            for e in events
        ]
        with storage_errors(f"queueing webhook deliveries for {sink!r}"):
            async with self.engine.begin() as conn:
                result = await conn.execute(
                    pg_insert(d)
                    .on_conflict_do_nothing(index_elements=["sink", "event_id"])
                    .returning(d.c.id),
                    rows,
                )
                return len(result.all())

    async def claim_due(
        self, sink: str, *, now: datetime, limit: int, hold: float
    ) -> list[DueDelivery]:
        """Claim up to ``limit`` due deliveries (one per campaign) for ``hold`` seconds,
        those brought forward by a later success of the sink included (``early``)."""
        query = due_deliveries(sink, now=now, limit=limit)
        with storage_errors(f"claiming webhook deliveries for {sink!r}"):
            async with self.engine.begin() as conn:
                rows = (await conn.execute(query)).all()
                if rows:
                    await conn.execute(
                        update(d)
                        .where(d.c.id.in_([r.id for r in rows]))
                        .values(locked_until=now + timedelta(seconds=hold))
                    )
        return [
            DueDelivery(
                id=r.id,
                event_id=str(r.event_id),
                body=r.body,
                attempts=r.attempts,
                campaign_id=r.campaign_id,
                due_at=r.next_attempt_at,
                early=bool(r.early),
            )
            for r in rows
        ]

    async def delivered(
        self, sink: str, delivery: DueDelivery, *, now: datetime, status: int
    ) -> None:
        """Record a successful attempt."""
        with storage_errors(f"recording a webhook delivery for {sink!r}"):
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(d)
                    .where(d.c.id == delivery.id)
                    .values(
                        status="delivered",
                        attempts=d.c.attempts + 1,
                        delivered_at=now,
                        last_status=status,
                        last_error=None,
                        locked_until=None,
                    )
                )
                await conn.execute(
                    update(webhook_sinks)
                    .where(webhook_sinks.c.name == sink)
                    .values(last_success_at=now, failing_since=None)
                )

    async def failed(
        self,
        sink: str,
        delivery: DueDelivery,
        *,
        now: datetime,
        status: int | None,
        error: str,
        retry_at: datetime | None,
        asked_to_wait: bool = False,
    ) -> SinkState:
        """Record a failed attempt: due again at ``retry_at``, or dead when it is ``None``.

        A later success of the sink brings the retry forward, unless the receiver
        ``asked_to_wait`` (Retry-After). An early attempt (``delivery.early``) is not
        counted: it used none of the delivery's retries.
        """
        values: dict[str, Any] = {
            "attempts": d.c.attempts + (0 if delivery.early else 1),
            "last_status": status,
            "last_error": error,
            "locked_until": None,
            "early_after": None if asked_to_wait else now,
        }
        if retry_at is None:
            values.update(status="dead", dead_at=now)
        else:
            values.update(next_attempt_at=retry_at)
        with storage_errors(f"recording a webhook delivery for {sink!r}"):
            async with self.engine.begin() as conn:
                await conn.execute(update(d).where(d.c.id == delivery.id).values(values))
                row = (
                    await conn.execute(
                        update(webhook_sinks)
                        .where(webhook_sinks.c.name == sink)
                        .values(failing_since=func.coalesce(webhook_sinks.c.failing_since, now))
                        .returning(webhook_sinks)
                    )
                ).one()
        return _state(row)

    async def disable(self, sink: str, *, now: datetime, reason: str) -> int:
        """Disable the sink; its pending deliveries become dead letters. Returns how many."""
        with storage_errors(f"disabling webhook sink {sink!r}"):
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(webhook_sinks)
                    .where(webhook_sinks.c.name == sink, webhook_sinks.c.disabled_at.is_(None))
                    .values(disabled_at=now, disabled_reason=reason)
                )
                result = await conn.execute(
                    update(d)
                    .where(d.c.sink == sink, d.c.status == "pending")
                    .values(status="dead", dead_at=now, locked_until=None, last_error=reason)
                )
                return int(result.rowcount)

    async def dead_letters(self, sink: str | None = None) -> list[DeadLetter]:
        """Dead deliveries, oldest event first."""
        query = (
            select(d).where(d.c.status == "dead").order_by(d.c.sink, d.c.event_xid, d.c.event_row)
        )
        if sink is not None:
            query = query.where(d.c.sink == sink)
        with storage_errors("listing dead letters"):
            async with self.engine.connect() as conn:
                rows = (await conn.execute(query)).all()
        return [
            DeadLetter(
                sink=r.sink,
                event_id=str(r.event_id),
                type=r.type,
                campaign=f"{r.provider}/{r.account}/{r.campaign_id}",
                attempts=r.attempts,
                last_status=r.last_status,
                last_error=r.last_error,
                dead_at=r.dead_at,
            )
            for r in rows
        ]

    async def redeliver(
        self, sink: str, *, now: datetime, event_ids: Sequence[str] | None = None
    ) -> int:
        """Enable the sink again and make its dead letters (or the named ones) pending."""
        where = [d.c.sink == sink, d.c.status == "dead"]
        if event_ids is not None:
            where.append(d.c.event_id.in_(list(event_ids)))
        with storage_errors(f"redelivering to {sink!r}"):
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(webhook_sinks)
                    .where(webhook_sinks.c.name == sink)
                    .values(disabled_at=None, disabled_reason=None, failing_since=None)
                )
                result = await conn.execute(
                    update(d)
                    .where(and_(*where))
                    .values(
                        # Due at once for any sender: its queue time is in the sender's frame.
                        status="pending",
                        attempts=0,
                        next_attempt_at=d.c.created_at,
                        dead_at=None,
                        locked_until=None,
                        early_after=None,
                    )
                )
                return int(result.rowcount)

    async def backlog(self, sink: str) -> int:
        """Deliveries still pending for the sink."""
        with storage_errors(f"counting deliveries for {sink!r}"):
            async with self.engine.connect() as conn:
                count = await conn.execute(
                    select(func.count()).where(d.c.sink == sink, d.c.status == "pending")
                )
                return int(count.scalar_one())


def _state(row: Any) -> SinkState:
    return SinkState(
        name=row.name,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
        last_success_at=row.last_success_at,
        failing_since=row.failing_since,
    )
