"""One bad response costs its target, never the process; and nothing a provider sends
makes the worker grow without bound."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import count, errors, events, row, runtime_for
from tests.hostile.server import TARGET, Answer, HostileVox, page, record
from tests.kits import all_kits
from worker.clock import ManualClock
from worker.config import HttpSettings, LimitSettings
from worker.simulators.faults import Faults
from worker.storage.tables import campaign_events
from worker.storage.views import campaigns

HEALTHY = all_kits()["vox_v3"]


async def test_a_body_nested_3000_deep_fails_its_target_only(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    deep = ('{"items": [' + "[" * 3000 + "]" * 3000 + "]}").encode()
    app, state = HEALTHY.build(clock, Faults(), 1)
    HEALTHY.populate(state, 2)
    hostile = HostileVox(lambda n, cursor: Answer(body=deep))
    async with runtime_for(engine, clock, {TARGET: hostile, HEALTHY.target: app}) as rt:
        results = await rt.sync_all()
    failed = results[TARGET.name]
    assert failed.status == "failed"
    assert failed.error == (
        "hostile/hostile: GET /v3/campaigns returned 200 with a JSON body nested deeper than "
        "about 1000 levels"
    ).replace("hostile/hostile", "vox_v3/hostile")
    assert hostile.requests == 1  # permanent: not retried
    assert results[HEALTHY.target.name].status == "succeeded"


async def test_a_cursor_that_never_repeats_ends_at_the_page_limit(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    def endless(number: int, cursor: str | None) -> Answer:
        n = int(cursor or 0)
        return Answer(body=page(record(str(n)), next_cursor=str(n + 1)))

    target = TARGET.model_copy(update={"limits": LimitSettings(max_pages=30)})
    labels = {"provider": "vox_v3", "account": "hostile", "status": "failed"}
    before = REGISTRY.get_sample_value("campaign_sync_cycles_total", labels) or 0.0
    async with runtime_for(engine, clock, {target: HostileVox(endless)}) as rt:
        summary = await rt.sync_target(target.name)
    assert (summary.status, summary.pages, summary.vanished) == ("failed", 30, 0)
    assert summary.error == (
        "vox_v3/hostile: the listing passed 30 pages (limits.max_pages) and was stopped; "
        "the provider's paging may never end"
    )
    assert REGISTRY.get_sample_value("campaign_sync_cycles_total", labels) == before + 1
    assert await count(engine, campaigns) == 30  # what was read is kept


async def test_a_cycle_past_its_deadline_fails_and_keeps_what_it_stored(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    import anyio

    release = anyio.Event()

    def slow_second_page(number: int, cursor: str | None) -> Answer:
        if cursor is None:
            return Answer(body=page(record("1"), next_cursor="1"))
        return Answer(body=page(record("2")))

    class Stalling(HostileVox):
        async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
            if b"cursor=1" in scope["query_string"]:
                await release.wait()  # never set: the deadline must end the cycle
            await super().__call__(scope, receive, send)

    # batch_wait 0: each page is written as it comes, not held for the next ones.
    limits = LimitSettings(cycle_deadline=0.5, batch_wait=0)
    target = TARGET.model_copy(update={"limits": limits})
    async with runtime_for(engine, clock, {target: Stalling(slow_second_page)}) as rt:
        summary = await rt.sync_target(target.name)
    assert (summary.status, summary.pages) == ("failed", 1)
    assert summary.error == (
        "vox_v3/hostile: the cycle passed its deadline of 0.5 s (limits.cycle_deadline) "
        "and was stopped"
    )
    assert await count(engine, campaigns) == 1


async def test_a_provider_inventing_statuses_never_grows_metrics_or_reports(
    engine: AsyncEngine, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    cycle = 0

    def inventive(number: int, cursor: str | None) -> Answer:
        records = [record(str(i), status=f"weird-{cycle}-{i}") for i in range(100)]
        records.append(record("huge", status="s" * 10_000_000))  # one 10 MB status
        return Answer(body=page(*records))

    sizes = []
    async with runtime_for(engine, clock, {TARGET: HostileVox(inventive)}) as rt:
        for cycle in range(50):  # noqa: B007 - read by the responder
            clock.advance(timedelta(minutes=1))
            summary = await rt.sync_target(TARGET.name)
            assert summary.status == "succeeded"
            scraped = generate_latest().decode()
            series = [line for line in scraped.splitlines() if not line.startswith("#")]
            sizes.append((len(series), len(scraped)))
    # /metrics keeps the same series cycle after cycle; only the numbers' digits move.
    assert len({n for n, _ in sizes[1:]}) == 1
    assert max(b for _, b in sizes) - min(b for _, b in sizes[1:]) < 200
    drift = await events(engine, campaign_events.c.type == "provider.schema_drift")
    assert len(drift) == 51  # the cap (50 values), then one note that there were more
    assert drift[-1]["data"] == {"field": "status", "value": None, "more_values": True}
    unknown = [e for e in await errors(engine) if e["kind"] == "unknown_status"]
    assert len(unknown) == 50
    (huge,) = [e for e in await errors(engine) if e["campaign_id"] == "huge"]
    assert huge["kind"] == "unstorable"
    assert max(len(r.getMessage()) for r in caplog.records) < 5000
    stored = await row(engine, "SELECT status FROM campaigns WHERE campaign_id = '7'")
    assert stored == {"status": "unknown"}


async def test_a_retry_after_past_the_retry_timeout_is_not_waited_for(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    hostile = HostileVox(
        lambda n, cursor: Answer(
            status=429,
            body=b'{"error": {"code": "RATE_LIMITED"}}',
            headers=[(b"retry-after", b"100000")],
        )
    )
    target = TARGET.model_copy(update={"http": HttpSettings(retry_timeout=20)})
    async with runtime_for(engine, clock, {target: hostile}) as rt:
        summary = await rt.sync_target(target.name)
    assert summary.status == "failed"
    assert hostile.requests == 1  # the provider asked for longer than we would wait in all
    assert "returned 429 (RATE_LIMITED; Retry-After 100000 s)" in (summary.error or "")


async def test_a_body_over_the_size_limit_is_refused_as_it_streams(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    big = page(*(record(str(i), name="x" * 1000) for i in range(3000)))  # about 3.5 MB
    target = TARGET.model_copy(update={"http": HttpSettings(max_body_bytes=1024 * 1024)})
    async with runtime_for(
        engine, clock, {target: HostileVox(lambda n, c: Answer(body=big))}
    ) as rt:
        summary = await rt.sync_target(target.name)
    assert summary.status == "failed"
    assert summary.error == (
        "vox_v3/hostile: GET /v3/campaigns returned 200 with a body over 1048576 bytes "
        "(more; http.max_body_bytes); it was not read further"
    )


@pytest.mark.slow
async def test_one_page_of_40_000_campaigns_is_written_in_chunks(
    engine: AsyncEngine, clock: ManualClock
) -> None:
    # Past 32767 query parameters: a page this long used to fail its read query.
    big = page(*(record(str(i)) for i in range(40_000)))
    target = TARGET.model_copy(update={"http": HttpSettings(max_body_bytes=64 * 1024 * 1024)})
    async with runtime_for(
        engine, clock, {target: HostileVox(lambda n, c: Answer(body=big))}
    ) as rt:
        first = await rt.sync_target(target.name)
        again = await rt.sync_target(target.name)
    assert (first.status, first.pages, first.changed) == ("succeeded", 1, 40_000)
    assert (again.status, again.changed) == ("succeeded", 0)
    assert await count(engine, campaigns) == 40_000
