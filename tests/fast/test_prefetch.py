"""Fetching runs ahead of writing (issue 10: they used to strictly alternate), by at most
``depth`` pages, and a fetch failure reaches the writer with its own type."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import anyio.lowlevel
import pytest
from anyio import wait_all_tasks_blocked

from tests.conftest import T0
from worker.clock import ManualClock
from worker.errors import ProviderUnavailable
from worker.sync.prefetch import FETCHER_HEADSTART, consume_prefetched


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


class TickingClock(ManualClock):
    """Each reading a second after the last: the n-th ask is at T0 + n seconds."""

    def now(self) -> datetime:
        at = super().now()
        self.advance(timedelta(seconds=1))
        return at


async def pages_of(count: int) -> AsyncIterator[int]:
    for number in range(count):
        yield number


async def test_a_page_asked_for_ahead_is_dated_by_the_ask_lead_pages_before_it() -> None:
    """A source that sends page k's request once page k - lead is handed on: page k is
    dated no later than that request, by the ask for page k - lead."""
    dated: list[tuple[int, datetime]] = []

    async def write(observed_at: datetime, page: int) -> None:
        dated.append((page, observed_at))

    await consume_prefetched(pages_of(6), TickingClock(T0), 2, write, lead=2)
    seconds = [0, 0, 0, 1, 2, 3]  # page k: the ask for page max(0, k - 2)
    assert dated == [(k, T0 + timedelta(seconds=s)) for k, s in enumerate(seconds)]


async def test_a_walk_one_page_at_a_time_dates_each_page_by_its_own_ask() -> None:
    dated: list[datetime] = []

    async def write(observed_at: datetime, page: int) -> None:
        dated.append(observed_at)

    await consume_prefetched(pages_of(3), TickingClock(T0), 2, write)
    assert dated == [T0 + timedelta(seconds=s) for s in range(3)]


async def test_the_first_pages_are_fetched_while_the_consumer_gets_ready() -> None:
    fetched: list[int] = []

    async def pages() -> AsyncIterator[int]:
        for number in range(5):
            fetched.append(number)
            yield number

    fetched_when_ready: list[int] = []

    async def ready() -> None:
        await wait_all_tasks_blocked()  # the fetcher went as far as it may
        fetched_when_ready.extend(fetched)

    written: list[int] = []

    async def write(observed_at: datetime, page: int) -> None:
        written.append(page)

    await consume_prefetched(pages(), ManualClock(T0), 2, write, ready=ready)
    assert written == [0, 1, 2, 3, 4]
    assert fetched_when_ready == [0, 1, 2]  # two queued, the third waiting for room


async def test_a_consumer_that_fails_to_get_ready_stops_the_fetching() -> None:
    async def ready() -> None:
        raise ProviderUnavailable("not ready", target="vox_v3/acme")

    async def write(observed_at: datetime, page: int) -> None:
        raise AssertionError("nothing is consumed")

    with pytest.raises(ProviderUnavailable, match="not ready"):
        await consume_prefetched(pages_of(100), ManualClock(T0), 2, write, ready=ready)


@pytest.mark.parametrize("checkpoints", [0, 1, 3, FETCHER_HEADSTART - 1])
async def test_the_next_request_is_on_the_wire_before_a_page_takes_the_cpu(
    checkpoints: int,
) -> None:
    """A page's work (which does not yield: reading and planning are pure) starts once
    the fetcher has sent the next page's request, so the provider works meanwhile. The
    fetcher passes ``checkpoints`` on its way to the socket, as an httpx request does
    (three: the limiter, httpcore's pool lock, the socket's send)."""
    sent: list[int] = []

    async def pages() -> AsyncIterator[int]:
        for number in range(6):
            for _ in range(checkpoints):
                await anyio.lowlevel.checkpoint()
            sent.append(number)
            await anyio.lowlevel.checkpoint()  # waiting for the answer, which comes at once
            yield number

    sent_when_page_began: dict[int, list[int]] = {}

    async def work(observed_at: datetime, page: int) -> None:
        sent_when_page_began[page] = list(sent)

    await consume_prefetched(pages(), ManualClock(T0), 2, work)
    for page, sent_then in sent_when_page_began.items():
        assert min(page + 1, 5) in sent_then, (page, sent_then)
