"""The Python subscription API: a durable consumer of the change events.

::

    async with subscribe(dsn, consumer="billing", types=["campaign.paused"]) as events:
        async for event in events:
            handle(event)          # a CloudEvents 1.0 mapping
            await event.ack()

The consumer's cursor lives in PostgreSQL: a restarted process resumes after
its last acknowledgement, so it receives again at most what it had not
acknowledged. ``ack()`` is cumulative: it acknowledges that event and every one
delivered before it. One process at a time holds a consumer name; another
process opening the same name waits (as a standby) until the lease is free.

A replay (``campaign-sync events replay``) reaches a running subscription: it
looks for one every ``standby_poll`` seconds, and an ``ack()`` finds one at
once (the store refuses to write over it). Either way the subscription reads
again from the replayed cursor; the rest of a batch read before the replay is
not delivered, and acknowledging an event read before it stores nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import replace
from functools import partial
from types import TracebackType
from typing import Any, Self

import anyio

from worker.domain.events import to_cloudevent
from worker.errors import ConsumerLost, StorageError
from worker.observability import loggers
from worker.ports import (
    Clock,
    ConsumerLease,
    ConsumerStore,
    CursorMoved,
    Feed,
    OutboxEvent,
    Position,
)

__all__ = ["SubscribedEvent", "Subscription"]

log = logging.getLogger(loggers.SUBSCRIBE)

FeedFactory = Callable[[Position], AbstractAsyncContextManager[Feed]]


class SubscribedEvent(Mapping[str, Any]):
    """One delivered event: its CloudEvents 1.0 envelope (as a mapping) and ``ack()``."""

    __slots__ = ("_ack", "_envelope", "stored")

    def __init__(self, stored: OutboxEvent, ack: Callable[[Position], Awaitable[None]]) -> None:
        self.stored = stored
        self._envelope = to_cloudevent(stored.event, position=stored.row_id)
        self._ack = ack

    @property
    def position(self) -> Position:
        """Where this event sits in the outbox's gap-free order."""
        return self.stored.position

    async def ack(self) -> None:
        """Acknowledge this event and every one delivered before it (durably).

        Raises:
            ConsumerLost: another process holds the consumer now.
            StorageError: the database is away; the cursor did not move, so a later
                ``ack()`` covers this event too, and a restart receives it again.
        """
        await self._ack(self.stored.position)

    def __getitem__(self, key: str) -> Any:
        return self._envelope[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._envelope)

    def __len__(self) -> int:
        return len(self._envelope)

    def __repr__(self) -> str:
        return f"SubscribedEvent({self['type']} {self['subject']!r} id={self['id']})"


class Subscription:
    """A named consumer's events, from its cursor on; an async context manager and iterator.

    Args:
        consumers: where cursors and leases live.
        open_feed: opens the gap-free feed after a position (filters bound in).
        owner: this process's name in the consumer's lease.
        lease_ttl: seconds the lease lasts unless renewed (renewed every third).
        standby_poll: seconds between tries while another process holds the name, and
            between looks for a replay while this one does.
    """

    def __init__(
        self,
        consumers: ConsumerStore,
        open_feed: FeedFactory,
        *,
        name: str,
        owner: str,
        clock: Clock,
        types: Sequence[str] | None = None,
        providers: Sequence[str] | None = None,
        lease_ttl: float = 30.0,
        standby_poll: float = 1.0,
    ) -> None:
        self._consumers = consumers
        self._open_feed = open_feed
        self.name = name
        self._owner = owner
        self._clock = clock
        self._types = types
        self._providers = providers
        self._ttl = lease_ttl
        self._standby_poll = standby_poll
        self._lease: ConsumerLease | None = None
        self._lost = False
        self._stack = AsyncExitStack()
        self._feed: Feed | None = None

    async def __aenter__(self) -> Self:
        lease = await self._claim()
        self._lease = lease
        async with AsyncExitStack() as stack:
            group = await stack.enter_async_context(anyio.create_task_group())
            group.start_soon(self._keep)
            stack.callback(group.cancel_scope.cancel)
            stack.push_async_callback(self._release)
            self._feed = await stack.enter_async_context(self._open_feed(lease.cursor))
            group.start_soon(self._watch)  # a replay since the claim rewinds this feed
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Not under a shield scope of our own: the task group entered in __aenter__
        # must be the innermost scope when it exits. _release shields itself.
        await self._stack.__aexit__(exc_type, exc, tb)

    async def _claim(self) -> ConsumerLease:
        waiting_on: str | None = None
        while True:
            claim = await self._consumers.claim(
                self.name,
                owner=self._owner,
                now=self._clock.now(),
                ttl=self._ttl,
                types=self._types,
                providers=self._providers,
            )
            if isinstance(claim, ConsumerLease):
                return claim
            if claim.owner != waiting_on:
                waiting_on = claim.owner
                log.info(
                    "consumer %r is held by %s; waiting as a standby",
                    self.name,
                    claim.owner,
                    extra={"event": "subscribe.standby", "consumer": self.name},
                )
            await anyio.sleep(self._standby_poll)

    async def _keep(self) -> None:
        assert self._lease is not None
        while True:
            await anyio.sleep(self._ttl / 3)
            try:
                if not await self._consumers.renew(self._lease, self._clock.now()):
                    self._lost = True
                    return
            except StorageError as exc:
                log.warning(
                    "consumer %r: lease renewal failed: %s",
                    self.name,
                    exc,
                    extra={"event": "subscribe.renew_failed", "consumer": self.name},
                )

    async def _watch(self) -> None:
        """Notice a replay while no ack does (the consumer is idle, or slow)."""
        assert self._lease is not None
        while True:
            await anyio.sleep(self._standby_poll)
            try:
                moved = await self._consumers.moved(self._lease)
            except StorageError as exc:  # the feed and the renewal report a lost database
                log.debug(
                    "consumer %r: replay check failed: %s",
                    self.name,
                    exc,
                    extra={"event": "subscribe.replay_check_failed", "consumer": self.name},
                )
                continue
            if moved is not None:
                self._rewind(moved)

    def _rewind(self, moved: CursorMoved) -> None:
        assert self._lease is not None
        assert self._feed is not None
        if moved.epoch <= self._lease.epoch:  # seen already (by an ack, or the watch)
            return
        self._lease = replace(self._lease, epoch=moved.epoch, cursor=moved.cursor)
        self._feed.rewind(moved.cursor)
        log.info(
            "consumer %r was replayed: receiving again after %s",
            self.name,
            moved.cursor,
            extra={"event": "subscribe.replayed", "consumer": self.name},
        )

    async def _release(self) -> None:
        if self._lease is not None and not self._lost:
            try:
                with anyio.CancelScope(shield=True):
                    await self._consumers.release(self._lease)
            except StorageError as exc:  # it expires by itself
                log.warning(
                    "consumer %r: release failed: %s",
                    self.name,
                    exc,
                    extra={"event": "subscribe.release_failed"},
                )

    async def _ack(self, epoch: int, position: Position) -> None:
        assert self._lease is not None
        if epoch != self._lease.epoch:  # read before a replay, which supersedes it
            return
        moved = await self._consumers.ack(self._lease, position, self._clock.now())
        if moved is not None:
            self._rewind(moved)

    def __aiter__(self) -> AsyncIterator[SubscribedEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[SubscribedEvent]:
        assert self._lease is not None
        async for batch in self.batches():
            epoch = self._lease.epoch
            for event in batch:
                if self._lease.epoch != epoch:  # replayed: the feed reads again from there
                    break
                yield event

    async def batches(self, *, follow: bool = True) -> AsyncIterator[list[SubscribedEvent]]:
        """The events in batches as they were read (acknowledge a batch by its last event).

        Without ``follow`` it stops once it has caught up.
        """
        assert self._feed is not None, "enter the subscription first (async with)"
        async for batch in self._feed.batches(follow=follow):
            if self._lost:
                raise ConsumerLost(f"consumer {self.name!r} was taken over by another process")
            assert self._lease is not None
            ack = partial(self._ack, self._lease.epoch)
            yield [SubscribedEvent(stored, ack) for stored in batch]
