"""Write one batch while the next is fetched and planned.

A cycle's writes run in a task of their own, one at a time and in order, at most
``depth`` waiting: PostgreSQL works on one batch while the worker plans the next,
instead of the two taking turns. Planning reads only the campaigns of its own
batch (a cycle lists each id once), so a write still in flight never changes what
the next batch reads.

Errors keep their type: a failed write stops the planning and is raised where the
writes were opened; a failure while planning drops the writes still waiting (the
cycle failed; nothing is half written, each write is one transaction).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

__all__ = ["Submit", "write_behind"]

Job = Callable[[], Awaitable[None]]
Submit = Callable[[Job], Awaitable[None]]


@asynccontextmanager
async def write_behind(depth: int) -> AsyncIterator[Submit]:
    """Yield ``submit(job)``: queue a write (waiting while ``depth`` are queued).
    On a clean exit every queued write has run."""
    send, receive = anyio.create_memory_object_stream[Job](depth)
    failure: list[Exception] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(_drain, receive, failure, tg.cancel_scope)
        try:
            async with send:
                yield send.send
        except Exception as exc:  # noqa: BLE001 (raised below, outside the task group, unwrapped)
            failure.append(exc)
            tg.cancel_scope.cancel()
    if failure:
        raise failure[0]


async def _drain(
    receive: MemoryObjectReceiveStream[Job], failure: list[Exception], scope: anyio.CancelScope
) -> None:
    async with receive:
        async for job in receive:
            try:
                await job()
            except Exception as exc:  # noqa: BLE001 (handed to write_behind, raised there)
                failure.append(exc)
                scope.cancel()
                return
