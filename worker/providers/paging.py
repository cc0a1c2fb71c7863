"""Page walkers shared by the adapters: cursor and offset paging over JSON envelopes.

They yield one page at a time, so a fleet of any size is never held in memory,
and they refuse envelopes that would make paging loop or silently stop early.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from worker.domain.campaign import TargetKey
from worker.errors import ProviderRejected
from worker.ports import RawRecord

__all__ = ["cursor_pages", "envelope_items", "offset_pages"]


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
