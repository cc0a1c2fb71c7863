"""Offset paging and detail reads run concurrently within ``http.max_concurrency`` and the rate
limit, and still yield pages in order (docs/providers.md 5.6).

Latency is simulated by a gate, never by sleeping: every request waits at the gate, and the
test opens it only when every task is blocked, so each opening is one round trip of the
provider and the widths of the openings are the requests that were in flight together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import T0
from tests.kits import sarvam as kit
from worker.clock import ManualClock
from worker.config import SarvamTarget
from worker.domain.campaign import TargetKey
from worker.errors import ProviderRejected
from worker.observability.redaction import SecretValues
from worker.ports import RawRecord
from worker.providers.base import ProviderHttp
from worker.providers.sarvam import SarvamSource
from worker.simulators.faults import Faults
from worker.sync.prefetch import consume_prefetched

T0_CLOCK = ManualClock(T0)


async def settle() -> None:
    """Return once every task is blocked and no wake-up is pending (no clock involved).

    ``wait_all_tasks_blocked`` alone can return while a finished task's callbacks are
    still queued (a task group about to exit looks blocked); the checkpoints run them.
    """
    for _ in range(3):
        for _ in range(30):
            await anyio.lowlevel.checkpoint()
        await anyio.wait_all_tasks_blocked()


class Gate:
    """Stands in for provider latency: each request waits until the gate opens."""

    def __init__(self) -> None:
        self.waiting = 0
        self.rounds: list[int] = []  # requests released together, one entry per round trip
        self._open = anyio.Event()

    async def sleep(self, _seconds: float = 0.0) -> None:
        self.waiting += 1
        await self._open.wait()

    async def run(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``work``, opening the gate each time everything else is blocked on it."""
        result: list[Any] = []

        async def main() -> None:
            result.append(await work())
            group.cancel_scope.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(main)
            while True:
                await settle()
                assert self.waiting, f"everything is blocked, but not on the provider {self.rounds}"
                self.rounds.append(self.waiting)
                self.waiting = 0
                opened, self._open = self._open, anyio.Event()
                opened.set()
        return result[0]


class CountingRate:
    """A rate limiter the test meters out by hand: ``acquire`` waits for a granted permit."""

    def __init__(self) -> None:
        self.granted = 0
        self.taken = 0
        self._more = anyio.Event()

    async def acquire(self) -> None:
        while self.taken >= self.granted:
            await self._more.wait()
        self.taken += 1

    def grant(self, n: int = 1) -> None:
        self.granted += n
        more, self._more = self._more, anyio.Event()
        more.set()


def _source(
    app: Any, target: SarvamTarget, *, concurrency: int, rate: CountingRate | None = None
) -> SarvamSource:
    target = target.model_copy(
        update={"http": target.http.model_copy(update={"max_concurrency": concurrency})}
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=target.base_url)
    key = TargetKey(provider="sarvam", account=target.account)
    http = ProviderHttp(
        client,
        target=key,
        settings=target.http,
        auth=SarvamSource.auth(target, key, T0_CLOCK, SecretValues()),
        rate=rate,
    )
    return SarvamSource(http, target)


def _simulator(
    n: int, gate: Gate | None = None, page_size: int | None = None
) -> tuple[Any, list[str]]:
    """The Sarvam simulator with ``n`` campaigns, and their ids in the list's order.

    The kit creates them all at once; the simulator breaks ``created_at`` ties by id.
    """
    faults = Faults(page_size=page_size)
    if gate is not None:
        faults.latency, faults.sleep = 0.1, gate.sleep
    app, engine = kit.build(ManualClock(T0), faults, seed=7)
    return app, sorted(kit.populate(engine, n))


async def _listing(source: SarvamSource, mode: str = "waves") -> list[Sequence[RawRecord]]:
    """Every page of one listing: ``waves`` (``pages``) or ``window`` (``listing``)."""
    if mode == "waves":
        return [page async for page in source.pages()]
    async with source.listing() as pages:
        return [page async for page in pages]


MODES = pytest.mark.parametrize("mode", ["waves", "window"])


def _ids(pages: Sequence[Sequence[RawRecord]]) -> list[str]:
    return [item["campaign_id"] for page in pages for item in page]


@pytest.mark.parametrize(
    ("concurrency", "rounds"),
    [
        (4, [1, 4, 4, 1]),  # the first page alone (it says the total), then waves of four
        (16, [1, 9]),  # never past the total: nine pages left, nine requests
        (1, [1] * 10),  # max_concurrency 1 pages one by one, as a sequential walk
    ],
)
@MODES
async def test_offset_pages_come_max_concurrency_at_a_time_and_in_order(
    concurrency: int, rounds: list[int], mode: str
) -> None:
    gate = Gate()
    app, ids = _simulator(1000, gate)
    source = _source(app, kit.TARGET, concurrency=concurrency)
    pages = await gate.run(lambda: _listing(source, mode))
    assert gate.rounds == rounds
    assert [len(page) for page in pages] == [100] * 10
    assert _ids(pages) == ids  # every campaign once, in the order the provider lists them


async def test_details_of_a_page_are_fetched_max_concurrency_at_a_time() -> None:
    gate = Gate()
    app, ids = _simulator(10, gate)
    source = _source(app, kit.TARGET, concurrency=4)
    (page,) = await gate.run(lambda: _listing(source))
    gate.rounds.clear()
    details = await gate.run(lambda: source.details(page))
    assert gate.rounds == [4, 4, 2]
    assert [d.record["campaign_id"] for d in details if d.record is not None] == ids
    assert all("allowed_schedule" in d.record for d in details if d.record is not None)


async def test_every_request_waits_for_the_rate_limiter() -> None:
    app, ids = _simulator(1000)
    seen: list[str] = []

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["query_string"].decode())
        await app(scope, receive, send)

    rate = CountingRate()
    source = _source(counted, kit.TARGET, concurrency=4, rate=rate)
    pages: list[Sequence[RawRecord]] = []

    async def listing() -> None:
        pages.extend(await _listing(source))

    async with anyio.create_task_group() as group:
        group.start_soon(listing)
        for granted in range(1, 11):
            await settle()
            assert len(seen) == granted - 1  # no request was sent without a permit
            rate.grant()
        await settle()
    assert len(seen) == rate.taken == 10
    assert _ids(pages) == ids


def _hostile(
    records: list[str], hook: Callable[[int], Awaitable[Response | None]]
) -> tuple[Starlette, list[int]]:
    """A Sarvam-shaped list over ``records``; ``hook(offset)`` runs first and may answer."""
    requested: list[int] = []

    async def campaigns(request: Request) -> Response:
        offset, limit = int(request.query_params["offset"]), int(request.query_params["limit"])
        requested.append(offset)
        answer = await hook(offset)
        if answer is not None:
            return answer
        page = records[offset : offset + limit]
        after = offset + len(page)
        return JSONResponse(
            {
                "items": [{"campaign_id": cid} for cid in page],
                "total": len(records),
                "offset": offset,
                "next_page_uri": f"?offset={after}" if page and after < len(records) else None,
            }
        )

    path = f"/api/scheduling/v1/orgs/{kit.ORG}/workspaces/{kit.WORKSPACE}/campaigns"
    return Starlette(routes=[Route(path, campaigns)]), requested


@MODES
async def test_a_failed_page_ends_the_listing_after_the_pages_before_it(mode: str) -> None:
    records = [f"c{i:04}" for i in range(1000)]

    async def refuse(offset: int) -> Response | None:
        return JSONResponse({"detail": "no"}, status_code=400) if offset == 300 else None

    app, requested = _hostile(records, refuse)
    source = _source(app, kit.TARGET, concurrency=4)
    pages: list[Sequence[RawRecord]] = []

    async def listing() -> None:
        if mode == "waves":
            async for page in source.pages():
                pages.append(page)
            return
        async with source.listing() as listed:
            async for page in listed:
                pages.append(page)

    with pytest.raises(ProviderRejected, match="400"):
        await listing()
    assert _ids(pages) == records[:300]  # page 400 was fetched with it, never yielded
    assert requested.count(300) == 1


@MODES
async def test_a_list_that_shrinks_mid_wave_is_paged_again_from_where_it_changed(mode: str) -> None:
    """A deletion served between the pages of one wave, out of order: without the check,
    page 200 (served after it) would skip a campaign and page 300 (served before it) would
    repeat one. The walk drops the wave at 200 and reads on from there, so it misses one
    campaign at most, as a walk one page at a time would."""
    records = [f"c{i:04}" for i in range(1000)]
    original = list(records)
    page_300_served = anyio.Event()

    async def reorder(offset: int) -> Response | None:
        if offset == 200 and not page_300_served.is_set():
            await page_300_served.wait()
            del records[50]  # a campaign already listed is deleted
        if offset == 300:
            page_300_served.set()
        return None

    app, requested = _hostile(records, reorder)
    source = _source(app, kit.TARGET, concurrency=4)
    pages = await _listing(source, mode)
    assert _ids(pages) == original[:200] + original[201:]  # no repeat, one skip
    assert requested.count(200) == 2


async def test_a_short_page_realigns_the_next_wave() -> None:
    """A provider serving fewer records than asked: the wave after it starts where it ended."""
    gate = Gate()
    app, ids = _simulator(200, gate, page_size=30)
    source = _source(app, kit.TARGET, concurrency=4)
    pages = await gate.run(lambda: _listing(source))
    assert _ids(pages) == ids
    assert [len(page) for page in pages] == [30] * 6 + [20]
    assert gate.rounds == [1, 4, 2]  # after the short page: offsets 30, 60, 90, 120


@MODES
async def test_a_page_requested_past_a_short_page_is_dropped_even_when_it_failed(mode: str) -> None:
    """Page 100 comes back short, so page 200 of its wave was asked at the wrong offset: its
    failure is not the listing's. The next wave reads on from 150, 50 records apart."""
    records = [f"c{i:04}" for i in range(1000)]
    failed = anyio.Event()

    async def short_then_fail(offset: int) -> Response | None:
        if offset == 100:
            items = [{"campaign_id": cid} for cid in records[100:150]]
            return JSONResponse({"items": items, "total": 1000, "next_page_uri": "?offset=150"})
        if offset == 200 and not failed.is_set():
            failed.set()
            return JSONResponse({"detail": "no"}, status_code=400)
        return None

    app, requested = _hostile(records, short_then_fail)
    source = _source(app, kit.TARGET, concurrency=4)
    pages = await _listing(source, mode)
    assert _ids(pages) == records
    assert requested[:5] == [0, 100, 200, 300, 400]
    assert requested.count(150) == 1


@MODES
async def test_pages_come_in_order_whatever_the_order_their_answers_come_in(mode: str) -> None:
    """Each page's answer waits for the one after it (the last waits for none)."""
    records = [f"c{i:04}" for i in range(1000)]
    answered = {offset: anyio.Event() for offset in range(0, 1000, 100)}

    async def backwards(offset: int) -> Response | None:
        if offset + 100 in answered and offset > 0:
            await answered[offset + 100].wait()
        answered[offset].set()
        return None

    app, requested = _hostile(records, backwards)
    # Wide enough for every page at once: a narrower window would wait forever here.
    pages = await _listing(_source(app, kit.TARGET, concurrency=9), mode)
    assert _ids(pages) == records
    assert len(requested) == 10


async def test_the_window_keeps_requests_in_flight_while_a_page_is_used() -> None:
    """A consumer whose work per page takes one round trip (a write, say): the window's
    next requests wait at the provider meanwhile, never more than ``max_concurrency`` of
    them; in waves none is out while the wave's pages are used."""
    rounds: dict[str, list[int]] = {}
    for mode in ("waves", "window"):
        gate = Gate()
        app, ids = _simulator(1000, gate)
        source = _source(app, kit.TARGET, concurrency=4)
        listed: list[str] = []

        async def use(page: Sequence[RawRecord], into: list[str] = listed, g: Gate = gate) -> None:
            await g.sleep()
            into.extend(item["campaign_id"] for item in page)

        async def slow_consumer(mode: str = mode, use: Any = use, source: Any = source) -> None:
            if mode == "waves":
                async for page in source.pages():
                    await use(page)
                return
            async with source.listing() as pages:
                async for page in pages:
                    await use(page)

        await gate.run(slow_consumer)
        assert listed == ids
        rounds[mode] = gate.rounds
    # Each round: the list requests at the gate, plus one page being used (a 1).
    # Waves: page 0, its use, a wave, four uses, a wave, four uses, the last page, its use.
    assert rounds["waves"] == [1, 1, 4, 1, 1, 1, 1, 4, 1, 1, 1, 1, 1, 1]
    # The window: page 0; its use with pages 100-400 out; then each use with the request
    # it let out (500-900); the last four uses. Never more than four requests out.
    assert rounds["window"] == [1, 5, 2, 2, 2, 2, 2, 1, 1, 1, 1]


async def test_leaving_the_window_early_cancels_the_requests_ahead() -> None:
    gate = Gate()
    app, ids = _simulator(1000, gate)
    source = _source(app, kit.TARGET, concurrency=4)

    async def first_page_only() -> list[str]:
        async with source.listing() as pages:
            async for page in pages:
                return [item["campaign_id"] for item in page]
        return []

    assert await gate.run(first_page_only) == ids[:100]
    assert gate.rounds == [1]  # pages 100-400 were asked for, then canceled at the gate


async def test_the_window_feeds_the_sync_cores_prefetch_in_order() -> None:
    """Entered by one task, iterated by the prefetch's own task, as the sync core would."""
    gate = Gate()
    app, ids = _simulator(1000, gate)
    source = _source(app, kit.TARGET, concurrency=4)
    listed: list[str] = []

    async def consume(_observed_at: Any, page: Sequence[RawRecord]) -> None:
        await gate.sleep()  # a write that takes one round trip
        listed.extend(item["campaign_id"] for item in page)

    async def cycle() -> None:
        async with source.listing() as pages:
            await consume_prefetched(pages, T0_CLOCK, 2, consume)

    await gate.run(cycle)
    assert listed == ids
    assert len(gate.rounds) == 11  # as the window alone: every request out while a page is used
