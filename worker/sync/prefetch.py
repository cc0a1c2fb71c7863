"""Fetch the next pages while the current one is written.

The provider's paging runs in a task of its own, at most ``depth`` pages ahead
of the writer, so the provider, the worker and the database work at once
instead of in turn; memory stays bounded by ``depth`` + 2 pages. Each page
carries its observation time: no later than the instant its request started. A
source that keeps ``lead`` requests ahead (Sarvam's offsets) may have sent page
k's request as soon as page k - ``lead`` was handed on, so page k is stamped with
the instant page k - ``lead`` was asked for; a walk one page at a time has lead 0.

A page's work waits for the fetcher to put its next request on the wire: on its way
to the socket an httpx request passes a few checkpoints (the concurrency limiter,
httpcore's pool lock, the socket's send: three with httpx 0.28 and anyio 4), and a
consumer that took the CPU at the first of them would hold the request back until
its page was done, so the provider and the worker would take turns. The consumer
yields :data:`FETCHER_HEADSTART` times first (each costs a few microseconds); the
provider then works on the next page while this one is read and planned.

Errors keep their type: a failure while fetching is raised where the pages are
consumed, and a failure while consuming stops the fetching; neither comes out
wrapped in an exception group.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectSendStream

from worker.ports import Clock

__all__ = ["FETCHER_HEADSTART", "consume_prefetched"]

T = TypeVar("T")

# Checkpoints the consumer yields before each page (see the module docstring): one more
# than an httpx request passes before its bytes are sent.
FETCHER_HEADSTART = 4


async def consume_prefetched(
    pages: AsyncIterator[T],
    clock: Clock,
    depth: int,
    consume: Callable[[datetime, T], Awaitable[None]],
    *,
    lead: int = 0,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Call ``consume(observed_at, page)`` for each page, in order, fetching ahead
    (``lead``: see the module docstring). ``ready`` is awaited before the first page is
    consumed, while the first pages are fetched (a target's digest table loads then)."""
    send, receive = anyio.create_memory_object_stream[tuple[datetime, T] | Exception](depth)
    failure: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(_fetch, pages, clock, send, lead)
        try:
            async with receive:
                if ready is not None:
                    await ready()
                async for item in receive:
                    if isinstance(item, Exception):
                        raise item
                    for _ in range(FETCHER_HEADSTART):
                        await anyio.lowlevel.checkpoint()
                    await consume(*item)
        except Exception as exc:  # noqa: BLE001 (raised below, outside the task group, unwrapped)
            failure = exc
        tg.cancel_scope.cancel()
    if failure is not None:
        raise failure


async def _fetch(
    pages: AsyncIterator[T],
    clock: Clock,
    send: MemoryObjectSendStream[tuple[datetime, T] | Exception],
    lead: int,
) -> None:
    # A page is observed no later than its request starts: an observation is stale when
    # it was fetched before the stored version was. The oldest of the last lead + 1 asks.
    asked: deque[datetime] = deque(maxlen=lead + 1)
    async with send:
        try:
            while True:
                asked.append(clock.now())
                try:
                    page = await anext(pages)
                except StopAsyncIteration:
                    return
                await send.send((asked[0], page))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return  # the consumer stopped
        except Exception as exc:  # noqa: BLE001 (handed to the consumer, raised there)
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await send.send(exc)
        finally:
            close = getattr(pages, "aclose", None)
            if close is not None:  # an async generator: let it clean up now, not at GC
                with anyio.CancelScope(shield=True):
                    await close()
