"""Page walkers shared by the adapters: cursor and offset paging over JSON envelopes,
and detail fetching that fails per campaign.

They yield one page at a time, so a fleet of any size is never held in memory,
and they refuse envelopes that would make paging loop or silently stop early.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import anyio

from worker.domain.campaign import TargetKey
from worker.errors import ProviderAuthError, ProviderError, ProviderRejected
from worker.observability import loggers
from worker.ports import Detail, RawRecord
from worker.providers.base import ProviderHttp

__all__ = ["cursor_pages", "envelope_items", "fetch_details", "offset_pages"]

log = logging.getLogger(loggers.PAGING)


def envelope_items(target: TargetKey, where: str, body: Any, items_key: str) -> list[RawRecord]:
    """The record list of a page envelope; raises ProviderRejected if it has none."""
    if not isinstance(body, dict):
        raise ProviderRejected(
            f"{where}: expected a JSON object envelope, got {type(body).__name__}",
            target=str(target),
        )
    items = body.get(items_key)
    if not isinstance(items, list):
        raise ProviderRejected(f"{where}: envelope has no {items_key!r} array", target=str(target))
    return items


async def cursor_pages(
    target: TargetKey,
    where: str,
    fetch: Callable[[str | None], Awaitable[Any]],
    *,
    items_key: str,
    cursor_key: str = "next_cursor",
) -> AsyncIterator[Sequence[RawRecord]]:
    """Follow ``next_cursor`` until it is null; a cursor seen twice is an error."""
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        body = await fetch(cursor)
        items = envelope_items(target, where, body, items_key)
        yield items
        nxt = body.get(cursor_key)
        if nxt is None or nxt == "":
            return
        if not isinstance(nxt, str | int) or isinstance(nxt, bool):
            raise ProviderRejected(f"{where}: {cursor_key} is not a string", target=str(target))
        cursor = str(nxt)
        if cursor in seen:
            raise ProviderRejected(
                f"{where}: {cursor_key} {cursor!r} repeated; paging would loop", target=str(target)
            )
        seen.add(cursor)


async def offset_pages(
    target: TargetKey,
    where: str,
    fetch: Callable[[int], Awaitable[Any]],
    *,
    items_key: str,
) -> AsyncIterator[Sequence[RawRecord]]:
    """Advance ``offset`` by each page's length until ``next_page_uri`` is null or
    ``total`` is reached; the provider may serve fewer records than asked for."""
    offset = 0
    while True:
        body = await fetch(offset)
        items = envelope_items(target, where, body, items_key)
        yield items
        offset += len(items)
        total = body.get("total")
        if not items or body.get("next_page_uri") is None:
            return
        if isinstance(total, int) and offset >= total:
            return


async def fetch_details(
    http: ProviderHttp,
    items: Sequence[RawRecord],
    *,
    path_of: Callable[[RawRecord], str | None],
    merge: Callable[[RawRecord, Any], RawRecord],
) -> list[Detail]:
    """Each item's detail, fetched concurrently (bounded by ``http``), one Detail per item.

    ``path_of(item)`` is the detail path, or ``None`` when the item has no usable
    id (it is passed on unchanged and rejected by normalize). One campaign's
    failure costs that campaign only: a 404 passes the list item on as
    ``missing``; any other error after retries is that item's ``failure``.
    Refused credentials (401/403) fail them all and are raised.
    """
    details: list[Detail] = [Detail(record=item) for item in items]
    refused: list[ProviderAuthError] = []

    async def fetch(index: int, path: str) -> None:
        item = items[index]
        try:
            details[index] = Detail(record=merge(item, await http.request_json("GET", path)))
        except ProviderAuthError as exc:
            refused.append(exc)
        except ProviderError as exc:
            if exc.status_code == 404:
                log.info(
                    "%s: %s is listed but its detail is gone (404)",
                    http.target,
                    path,
                    extra={
                        "event": "provider.detail_missing",
                        "target": str(http.target),
                        "path": path,
                    },
                )
                details[index] = Detail(record=item, missing=True)
            else:
                details[index] = Detail(record=None, failure=str(exc))

    async with anyio.create_task_group() as group:
        for index, item in enumerate(items):
            path = path_of(item)
            if path is not None:
                group.start_soon(fetch, index, path)
    if refused:
        raise refused[0]
    return details
