"""Durable consumers of the event outbox: a cursor per name, held by one process at a time.

A consumer's cursor is the position of the last event it acknowledged; a
process that restarts resumes after it, so it receives again at most what it
had not acknowledged. A lease (owner, token, expiry) lets one process at a time
receive a consumer's events; an acknowledgement from a process whose lease was
taken over is refused, so two processes never both move one cursor.

``events replay`` moves the cursor of a consumer that may be running: it bumps
the consumer's ``epoch`` in the same statement. An acknowledgement is a
compare-and-set on the epoch its holder read, so the holder never writes over a
replay from memory: it is told where the cursor went (:class:`CursorMoved`) and
reads again from there; :meth:`PostgresConsumers.moved` lets an idle holder
notice too. A consumer is deleted only while nobody holds it: deleting a
running one would have it recreated at the outbox's start by its own next claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Text, cast, delete, func, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from worker.errors import ConsumerLost
from worker.ports import ConsumerHeld, ConsumerInfo, ConsumerLease, CursorMoved, Position
from worker.storage.engine import storage_errors
from worker.storage.tables import campaign_events, event_consumers
from worker.storage.xid8 import XID8

__all__ = ["PostgresConsumers"]


def _xid(value: int) -> ColumnElement[int]:
    return cast(literal(str(value), Text), XID8())


class PostgresConsumers:
    """The ConsumerStore port on PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def claim(
        self,
        name: str,
        *,
        owner: str,
        now: datetime,
        ttl: float,
        types: Sequence[str] | None = None,
        providers: Sequence[str] | None = None,
    ) -> ConsumerLease | ConsumerHeld:
        """Take the consumer's lease (creating it at the outbox's start), or say who has it."""
        with storage_errors(f"claiming consumer {name!r}"):
            async with self.engine.begin() as conn:
                await conn.execute(
                    pg_insert(event_consumers)
                    .values(name=name, created_at=now)
                    .on_conflict_do_nothing()
                )
                row = (
                    await conn.execute(
                        select(event_consumers)
                        .where(event_consumers.c.name == name)
                        .with_for_update()
                    )
                ).one()
                expires = row.lease_expires_at
                if row.owner is not None and expires is not None and expires > now:
                    return ConsumerHeld(owner=row.owner, expires_at=expires)
                token = row.lease_token + 1
                await conn.execute(
                    update(event_consumers)
                    .where(event_consumers.c.name == name)
                    .values(
                        owner=owner,
                        lease_token=token,
                        lease_expires_at=now + timedelta(seconds=ttl),
                        types=None if types is None else list(types),
                        providers=None if providers is None else list(providers),
                    )
                )
        return ConsumerLease(
            name=name,
            owner=owner,
            token=token,
            ttl=ttl,
            cursor=Position(xid=int(row.cursor_xid), id=int(row.cursor_id)),
            epoch=int(row.epoch),
        )

    def _held(self, lease: ConsumerLease) -> list[ColumnElement[bool]]:
        return [
            event_consumers.c.name == lease.name,
            event_consumers.c.lease_token == lease.token,
            event_consumers.c.owner == lease.owner,
        ]

    async def renew(self, lease: ConsumerLease, now: datetime) -> bool:
        """Extend the lease; False when another process holds it now."""
        with storage_errors(f"renewing consumer {lease.name!r}"):
            async with self.engine.begin() as conn:
                done = await conn.execute(
                    update(event_consumers)
                    .where(*self._held(lease))
                    .values(lease_expires_at=now + timedelta(seconds=lease.ttl))
                )
        return bool(done.rowcount)

    async def ack(
        self, lease: ConsumerLease, position: Position, now: datetime
    ) -> CursorMoved | None:
        """Move the cursor forward to ``position`` (never back), unless a replay moved it
        since ``lease.epoch``: then nothing is stored, and the new place is returned.

        Raises:
            ConsumerLost: another process holds the consumer now; nothing moved.
        """
        with storage_errors(f"acknowledging for consumer {lease.name!r}"):
            async with self.engine.begin() as conn:
                held = (
                    await conn.execute(
                        select(
                            event_consumers.c.cursor_xid,
                            event_consumers.c.cursor_id,
                            event_consumers.c.epoch,
                        )
                        .where(*self._held(lease))
                        .with_for_update()
                    )
                ).first()
                if held is None:
                    raise ConsumerLost(
                        f"consumer {lease.name!r} was taken over by another process; "
                        "this one stops receiving"
                    )
                stored = Position(xid=int(held.cursor_xid), id=int(held.cursor_id))
                if int(held.epoch) != lease.epoch:
                    return CursorMoved(epoch=int(held.epoch), cursor=stored)
                if stored >= position:
                    return None
                await conn.execute(
                    update(event_consumers)
                    .where(event_consumers.c.name == lease.name)
                    .values(cursor_xid=_xid(position.xid), cursor_id=position.id, acked_at=now)
                )
        return None

    async def moved(self, lease: ConsumerLease) -> CursorMoved | None:
        """Where a replay put the cursor since ``lease.epoch``, or None (also when the
        consumer is gone: renewing the lease tells that)."""
        with storage_errors(f"reading consumer {lease.name!r}"):
            async with self.engine.connect() as conn:
                row = (
                    await conn.execute(
                        select(
                            event_consumers.c.cursor_xid,
                            event_consumers.c.cursor_id,
                            event_consumers.c.epoch,
                        ).where(event_consumers.c.name == lease.name)
                    )
                ).first()
        if row is None or int(row.epoch) == lease.epoch:
            return None
        return CursorMoved(
            epoch=int(row.epoch), cursor=Position(xid=int(row.cursor_xid), id=int(row.cursor_id))
        )

    async def release(self, lease: ConsumerLease) -> None:
        """Give the lease up (a standby process may take it at once)."""
        with storage_errors(f"releasing consumer {lease.name!r}"):
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(event_consumers)
                    .where(*self._held(lease))
                    .values(owner=None, lease_expires_at=None)
                )

    async def move(self, name: str, position: Position) -> bool:
        """Set a consumer's cursor (``events replay``); False when there is no such consumer.

        Its holder, if it runs, reads again from ``position``: the epoch changes with it.
        """
        with storage_errors(f"moving consumer {name!r}"):
            async with self.engine.begin() as conn:
                done = await conn.execute(
                    update(event_consumers)
                    .where(event_consumers.c.name == name)
                    .values(
                        cursor_xid=_xid(position.xid),
                        cursor_id=position.id,
                        epoch=event_consumers.c.epoch + 1,
                    )
                )
        return bool(done.rowcount)

    async def delete(self, name: str, now: datetime) -> bool | ConsumerHeld:
        """Forget a consumer and its cursor, unless a process holds it (then who does);
        False when there is no such consumer."""
        with storage_errors(f"deleting consumer {name!r}"):
            async with self.engine.begin() as conn:
                row = (
                    await conn.execute(
                        select(event_consumers.c.owner, event_consumers.c.lease_expires_at)
                        .where(event_consumers.c.name == name)
                        .with_for_update()
                    )
                ).first()
                if row is None:
                    return False
                expires = row.lease_expires_at
                if row.owner is not None and expires is not None and expires > now:
                    return ConsumerHeld(owner=row.owner, expires_at=expires)
                await conn.execute(delete(event_consumers).where(event_consumers.c.name == name))
        return True

    async def list(self, now: datetime) -> list[ConsumerInfo]:
        """Every consumer with its cursor and lag (events after it, and the oldest one's age)."""
        with storage_errors("listing consumers"):
            async with self.engine.connect() as conn:
                consumers = (
                    await conn.execute(select(event_consumers).order_by(event_consumers.c.name))
                ).all()
                found = []
                for c in consumers:
                    behind: list[ColumnElement[bool]] = [
                        tuple_(campaign_events.c.xid, campaign_events.c.id)
                        > tuple_(_xid(int(c.cursor_xid)), c.cursor_id)
                    ]
                    if c.types is not None:
                        behind.append(campaign_events.c.type.in_(c.types))
                    if c.providers is not None:
                        behind.append(campaign_events.c.provider.in_(c.providers))
                    lag, oldest = (
                        await conn.execute(
                            select(func.count(), func.min(campaign_events.c.detected_at)).where(
                                *behind
                            )
                        )
                    ).one()
                    found.append(
                        ConsumerInfo(
                            name=c.name,
                            cursor=Position(xid=int(c.cursor_xid), id=int(c.cursor_id)),
                            lag_events=int(lag),
                            lag_seconds=0.0 if oldest is None else (now - oldest).total_seconds(),
                            owner=c.owner
                            if c.lease_expires_at is not None and c.lease_expires_at > now
                            else None,
                            acked_at=c.acked_at,
                        )
                    )
        return found
