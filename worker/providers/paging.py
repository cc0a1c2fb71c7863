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

__all__ = ["cursor_pages", "envelope_items", "envelope_total", "fetch_details", "offset_pages"]

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
    page_size: int,
    ahead: int = 1,
) -> AsyncIterator[Sequence[RawRecord]]:
    """Pages at ``offset`` 0, then the following ones, up to ``ahead`` requests at a time.

    Paging ends as it always has: at an empty page, a null ``next_page_uri`` or
    ``offset`` ≥ ``total``; ``offset`` grows by each page's length (the provider
    may serve fewer records than asked for). Pages are yielded in offset order.

    The first page is fetched alone: its ``total`` says how many pages follow, so
    no request is spent past the end. The rest come in waves of up to ``ahead``
    requests at offsets one ``page_size`` apart (``http.max_concurrency`` bounds
    them again, and the rate limit, since each goes through ``ProviderHttp``). A
    wave's page is yielded only if it starts where the page before it ended and
    reports the same ``total`` as the wave's first page; otherwise it and the
    rest of its wave are dropped and the next wave starts at that offset. A
    different ``total`` means the list changed while the wave was in flight, and
    its pages may have been served on either side of the change (docs/providers.md
    4.2): paging resumes from there as a sequential walk would. A wave holds at
    most ``ahead`` pages. An error ends the listing after the pages before it.
    """
    body = await fetch(0)
    wave: list[tuple[int, Any]] = [(0, body)]
    offset = 0
    stride = page_size
    while True:
        total: int | None = None  # what this wave's first page reported
        for requested, answer in wave:
            if requested != offset:
                break  # a shorter page came before: this one starts elsewhere
            if isinstance(answer, Exception):
                raise answer
            said = envelope_total(answer)
            if requested != wave[0][0] and said != total:
                log_list_changed(target, where, total, said, offset)
                break
            total = said
            items = envelope_items(target, where, answer, items_key)
            yield items
            offset += len(items)
            if not items or answer.get("next_page_uri") is None:
                return
            if total is not None and offset >= total:
                return
            stride = min(stride, len(items))
        wave = await _wave(fetch, _offsets(offset, stride, total, ahead))


def log_list_changed(
    target: TargetKey, where: str, total: int | None, said: int | None, offset: int
) -> None:
    """The list's total moved while its pages were out: paging resumes at ``offset``."""
    log.info(
        "%s: %s changed its total from %s to %s while paged; paging resumes at %d",
        target,
        where,
        total,
        said,
        offset,
        extra={"event": "provider.list_changed", "target": str(target)},
    )


def envelope_total(body: Any) -> int | None:
    """The envelope's ``total``, when it is an integer."""
    said = body.get("total") if isinstance(body, dict) else None
    return said if isinstance(said, int) and not isinstance(said, bool) else None


def _offsets(offset: int, stride: int, total: int | None, ahead: int) -> list[int]:
    """The next wave's offsets: up to ``ahead``, none at or past ``total``.

    Without a ``total`` the listing's length is unknown: one page at a time.
    """
    if total is None:
        return [offset]
    remaining = -(-(total - offset) // stride)
    return [offset + i * stride for i in range(max(1, min(ahead, remaining)))]


async def _wave(
    fetch: Callable[[int], Awaitable[Any]], offsets: list[int]
) -> list[tuple[int, Any]]:
    """Each offset's answer, or the exception its request raised, fetched concurrently."""
    answers: list[Any] = [None] * len(offsets)

    async def one(index: int) -> None:
        try:
            answers[index] = await fetch(offsets[index])
        except Exception as exc:  # noqa: BLE001 - raised in page order by the caller, unwrapped
            answers[index] = exc

    async with anyio.create_task_group() as group:
        for index in range(len(offsets)):
            group.start_soon(one, index)
    return list(zip(offsets, answers, strict=True))


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
