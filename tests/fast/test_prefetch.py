"""Fetching runs ahead of writing (issue 10: they used to strictly alternate), by at most
``depth`` pages, and a fetch failure reaches the writer with its own type."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from anyio import wait_all_tasks_blocked

from tests.conftest import T0
from worker.clock import ManualClock
from worker.errors import ProviderUnavailable
from worker.sync.prefetch import consume_prefetched


async def test_pages_are_fetched_ahead_while_one_is_written_and_no_further() -> None:
    fetched: list[int] = []

    async def pages() -> AsyncIterator[int]:
        for number in range(8):
            fetched.append(number)
            yield number

    written: list[int] = []
    fetched_while_first_written: list[int] = []

    async def write(observed_at: datetime, page: int) -> None:
        if page == 0:
            await wait_all_tasks_blocked()  # the fetcher went as far as it may
            fetched_while_first_written.extend(fetched)
        written.append(page)

    await consume_prefetched(pages(), ManualClock(T0), 2, write)
    assert written == list(range(8))
    # Page 0 being written, pages 1-2 queued, page 3 fetched and waiting for room.
    assert fetched_while_first_written == [0, 1, 2, 3]


async def test_a_fetch_failure_reaches_the_writer_unwrapped() -> None:
    async def pages() -> AsyncIterator[int]:
        yield 0
        raise ProviderUnavailable("page 2 failed", target="vox_v3/acme")

    written: list[int] = []

    async def write(observed_at: datetime, page: int) -> None:
        written.append(page)

    with pytest.raises(ProviderUnavailable, match="page 2 failed"):
        await consume_prefetched(pages(), ManualClock(T0), 2, write)
    assert written == [0]
