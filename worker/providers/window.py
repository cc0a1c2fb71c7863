"""Offset paging with a sliding window: the next pages are in flight while this one is used.

:func:`~worker.providers.paging.offset_pages` is an async generator, so it can hold no
task across a ``yield`` (a task group there would be left open in its consumer's scope
stack): it fetches in waves and waits for a wave's slowest page. :func:`offset_window` is
an async context manager instead: the requests ahead live in its task group, so a request
goes out as soon as a page is handed on, and the walk waits for no wave. Enter and leave
it in one task; the walk holds no cancel scope, so any task may iterate its pages.

The walk keeps ``offset_pages``'s rules: pages in offset order, paging ends at an empty
page, a null ``next_page_uri`` or ``offset`` ≥ ``total``, at most ``ahead`` requests
outstanding (in flight or answered and not yet handed on). A page is handed on only if it
starts where the one before it ended and, when it was requested before that one was
answered, reports the same ``total``; otherwise every request outstanding is canceled and
the walk asks for that offset again. Two pages one after the other then lie on the same
side of any change to the list, or were served in order, as a walk one page at a time
would serve them (docs/providers.md 4.2, 5.6).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskGroup

from worker.domain.campaign import TargetKey
from worker.ports import RawRecord
from worker.providers.paging import envelope_items, envelope_total, log_list_changed

__all__ = ["offset_window"]


class _Request:
    """One page's request: its offset, when it went out and was answered, and the answer."""

    def __init__(self, offset: int, sent: int) -> None:
        self.offset = offset
        self.sent = sent
        self.answered = -1
        self.answer: Any = None
        self.done = anyio.Event()
        self.scope = anyio.CancelScope()


class _Window:
    """The requests of one walk, run in the walk's task group, ordered by a shared counter."""

    def __init__(self, group: TaskGroup, fetch: Callable[[int], Awaitable[Any]]) -> None:
        self._group = group
        self._fetch = fetch
        self._ticks = itertools.count()

    def request(self, offset: int) -> _Request:
        request = _Request(offset, next(self._ticks))
        self._group.start_soon(self._run, request)
        return request

    async def _run(self, request: _Request) -> None:
        with request.scope:
            try:
                request.answer = await self._fetch(request.offset)
            except Exception as exc:  # noqa: BLE001 - raised by the walk, in page order
                request.answer = exc
            request.answered = next(self._ticks)
            request.done.set()


@asynccontextmanager
async def offset_window(
    target: TargetKey,
    where: str,
    fetch: Callable[[int], Awaitable[Any]],
    *,
    items_key: str,
    page_size: int,
    ahead: int,
) -> AsyncIterator[AsyncIterator[Sequence[RawRecord]]]:
    """The pages of one listing, ``fetch(offset)`` up to ``ahead`` requests ahead."""
    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        try:
            yield _walk(target, where, _Window(group, fetch), items_key, page_size, ahead)
        except Exception as exc:  # noqa: BLE001 - raised below, outside the group, unwrapped
            failure = exc
        finally:
            group.cancel_scope.cancel()  # requests still ahead when the walk stopped
    if failure is not None:
        raise failure


async def _walk(
    target: TargetKey,
    where: str,
    window: _Window,
    items_key: str,
    page_size: int,
    ahead: int,
) -> AsyncIterator[Sequence[RawRecord]]:
    # Holds no task or cancel scope across its yields: it only waits for answers.
    queue: deque[_Request] = deque([window.request(0)])
    offset, stride = 0, page_size
    total: int | None = None
    before: _Request | None = None  # the page handed on last
    try:
        while queue:
            request = queue.popleft()
            await request.done.wait()
            failed = isinstance(request.answer, Exception)
            said = envelope_total(request.answer)
            # Asked before the page ahead of it was answered: it may have been served first.
            overlapped = before is not None and request.sent < before.answered
            changed = overlapped and not failed and said != total
            if request.offset != offset or changed:
                if changed:
                    log_list_changed(target, where, total, said, offset)
                _cancel(queue)
                queue.append(window.request(offset))
                continue
            if failed:
                raise request.answer
            items = envelope_items(target, where, request.answer, items_key)
            before, total = request, said
            offset += len(items)
            last = (
                not items
                or request.answer.get("next_page_uri") is None
                or (total is not None and offset >= total)
            )
            if not last:
                stride = min(stride, len(items))
                _top_up(queue, window, offset, stride, total, ahead)  # out while this is used
            yield items
            if last:
                return
    finally:
        _cancel(queue)


def _top_up(
    queue: deque[_Request],
    window: _Window,
    offset: int,
    stride: int,
    total: int | None,
    ahead: int,
) -> None:
    """Ask for the next pages until ``ahead`` are outstanding (one when ``total`` is unknown)."""
    limit = ahead if total is not None else 1
    while len(queue) < limit:
        following = queue[-1].offset + stride if queue else offset
        if total is not None and following >= total:
            return
        queue.append(window.request(following))


def _cancel(queue: deque[_Request]) -> None:
    for request in queue:
        request.scope.cancel()
    queue.clear()
