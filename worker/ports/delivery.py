"""The contracts of delivery: the outbox's order, durable consumers, webhook state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from worker.domain.events import ChangeEvent

__all__ = [
    "ConsumerHeld",
    "ConsumerInfo",
    "ConsumerLease",
    "ConsumerStore",
    "CursorMoved",
    "DeadLetter",
    "DueDelivery",
    "Feed",
    "OutboxEvent",
    "Position",
    "SinkState",
    "WebhookStore",
]


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Position:
    """A place in the outbox's gap-free order: (writing transaction id, outbox id).

    Rendered as ``"<xid>:<id>"``; ``Position()`` is before every event.
    """

    xid: int = 0
    id: int = 0

    def __str__(self) -> str:
        return f"{self.xid}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Position:
        """The position rendered as ``"<xid>:<id>"``; raises ValueError otherwise."""
        xid, sep, row = text.partition(":")
        if not sep or not xid.isdigit() or not row.isdigit():
            raise ValueError(f"not a position (expected XID:ID): {text!r}")
        return cls(xid=int(xid), id=int(row))


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxEvent:
    """A stored event with its place in the outbox.

    ``row_id`` is ``campaign_events.id``, the CloudEvents ``sequence`` position.
    """

    position: Position
    row_id: int
    event: ChangeEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerLease:
    """One process's right to receive a named consumer's events, from ``cursor`` on.

    ``epoch`` is the consumer's replay count as this process last read it.
    """

    name: str
    owner: str
    token: int
    ttl: float
    cursor: Position
    epoch: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CursorMoved:
    """The cursor was moved (``events replay``) since the holder last read it: it reads
    again from ``cursor``, and remembers ``epoch``."""

    epoch: int
    cursor: Position


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerHeld:
    """Another process receives this consumer's events."""

    owner: str
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerInfo:
    """A consumer as ``events consumers`` shows it."""

    name: str
    cursor: Position
    lag_events: int
    lag_seconds: float
    owner: str | None
    acked_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SinkState:
    """A webhook sink's standing: disabled (and why), last success, failing since."""

    name: str
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    last_success_at: datetime | None = None
    failing_since: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DueDelivery:
    """A webhook delivery claimed for one attempt.

    ``early``: its retry slot (``due_at``) has not come; a later success of the sink
    brought it forward. Such an attempt that fails keeps its slot and its count.
    """

    id: int
    event_id: str
    body: str
    attempts: int  # made before this one
    campaign_id: str
    due_at: datetime | None = None
    early: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """A delivery given up on (retries exhausted, or the sink disabled)."""

    sink: str
    event_id: str
    type: str
    campaign: str
    attempts: int
    last_status: int | None
    last_error: str | None
    dead_at: datetime | None


class Feed(Protocol):
    """The outbox read in its gap-free order, from some position on."""

    def batches(self, *, follow: bool = True) -> AsyncIterator[list[OutboxEvent]]:
        """Non-empty batches in order; with ``follow``, wait for more forever."""
        ...

    def rewind(self, position: Position) -> None:
        """Read on after ``position`` from the next batch on (a read under way is dropped)."""
        ...


class ConsumerStore(Protocol):
    """Durable consumer cursors, each held by one process at a time."""

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
        """Take the consumer's lease, or say who holds it. Raises StorageError."""
        ...

    async def renew(self, lease: ConsumerLease, now: datetime) -> bool:
        """Extend the lease; False when another process holds it now."""
        ...

    async def ack(
        self, lease: ConsumerLease, position: Position, now: datetime
    ) -> CursorMoved | None:
        """Move the cursor forward to ``position``, unless a replay moved it since
        ``lease.epoch`` (then nothing is stored, and the new place is returned).
        Raises ConsumerLost when not held."""
        ...

    async def moved(self, lease: ConsumerLease) -> CursorMoved | None:
        """Where a replay put the cursor since ``lease.epoch``, or None. Raises StorageError."""
        ...

    async def release(self, lease: ConsumerLease) -> None:
        """Give the lease up."""
        ...


class WebhookStore(Protocol):
    """Webhook sinks and their deliveries (see ``worker.storage.webhooks``)."""

    async def register(self, sink: str, url: str, now: datetime) -> SinkState:
        """Create or update the sink; its state."""
        ...

    async def state(self, sink: str) -> SinkState:
        """The sink's current state."""
        ...

    async def enqueue(
        self, sink: str, events: Sequence[OutboxEvent], *, now: datetime, dead: bool
    ) -> int:
        """One delivery per event, once; dead ones while the sink is disabled."""
        ...

    async def claim_due(
        self, sink: str, *, now: datetime, limit: int, hold: float
    ) -> list[DueDelivery]:
        """Claim due deliveries, the oldest pending one of each campaign only."""
        ...

    async def delivered(
        self, sink: str, delivery: DueDelivery, *, now: datetime, status: int
    ) -> None:
        """Record a success."""
        ...

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
        """Record a failure: retried at ``retry_at``, or dead when ``None``; a success of
        the sink brings the retry forward unless the receiver ``asked_to_wait``."""
        ...

    async def disable(self, sink: str, *, now: datetime, reason: str) -> int:
        """Disable the sink; pending deliveries become dead letters."""
        ...
