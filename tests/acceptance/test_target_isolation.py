"""All four providers in one worker: one failing target never stops the others, and after
it recovers it syncs without duplicate events. Per-account limits hold."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.helpers import count, runtime_for
from tests.kits import ProviderKit, all_kits
from worker.clock import ManualClock
from worker.config import HttpSettings
from worker.simulators.faults import Faults
from worker.storage.tables import campaign_events, sync_runs

KITS = all_kits()


def fleet(clock: ManualClock) -> tuple[dict[Any, ASGIApp], dict[str, Faults], dict[str, list[str]]]:
    apps, faults, ids = {}, {}, {}
    for name, kit in KITS.items():
        faults[name] = Faults()
        app, state = kit.build(clock, faults[name], 7)
        ids[name] = kit.populate(state, 3)
        apps[kit.target] = app
    return apps, faults, ids


async def discovered_per_campaign(engine: AsyncEngine) -> Counter[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(campaign_events.c.provider, campaign_events.c.campaign_id).where(
                campaign_events.c.type == "campaign.discovered"
            )
        )
        return Counter((r.provider, r.campaign_id) for r in rows)


@pytest.mark.parametrize("failing", sorted(KITS))
@pytest.mark.parametrize("fault", ["rate_limited", "server_errors"])
async def test_one_failing_target_never_stops_the_others(
    engine: AsyncEngine, clock: ManualClock, failing: str, fault: str
) -> None:
    apps, faults, ids = fleet(clock)
    setattr(faults[failing], fault, 1000)  # far more than the retries: it stays down
    async with runtime_for(engine, clock, apps) as rt:
        first = await rt.sync_all()
        by_provider = {name.split("/")[0]: summary for name, summary in first.items()}
        assert by_provider[failing].status == "failed"
        expected = "429" if fault == "rate_limited" else "503"
        assert f"returned {expected}" in (by_provider[failing].error or "")
        for name, summary in by_provider.items():
            if name != failing:
                assert (summary.status, summary.changed) == ("succeeded", len(ids[name])), name

        setattr(faults[failing], fault, 0)  # the provider recovers; the clock stands still
        second = await rt.sync_all()
        assert all(s.status == "succeeded" for s in second.values())
        recovered = next(s for n, s in second.items() if n.startswith(f"{failing}/"))
        assert recovered.changed == len(ids[failing])
        third = await rt.sync_all()
        assert sum(s.events for s in third.values()) == 0

    discovered = await discovered_per_campaign(engine)
    assert set(discovered.values()) == {1}  # every campaign discovered exactly once
    assert sum(discovered.values()) == sum(len(v) for v in ids.values())
    async with engine.connect() as conn:
        failed_runs = (
            await conn.execute(
                select(func.count()).select_from(sync_runs).where(sync_runs.c.status == "failed")
            )
        ).scalar_one()
    assert failed_runs == 1
    assert await count(engine, campaign_events) == sum(discovered.values())


class InFlight:
    """Counts concurrent requests in front of a simulator."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.now = 0
        self.most = 0
        self.total = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.now += 1
        self.total += 1
        self.most = max(self.most, self.now)
        try:
            await self.app(scope, receive, send)
        finally:
            self.now -= 1


def detail_fetching_kit() -> ProviderKit:
    # Sarvam fetches each campaign's detail concurrently: the place limits matter most.
    return KITS["sarvam"]


@pytest.mark.parametrize("limit", [1, 3])
async def test_concurrency_limit_per_account(
    engine: AsyncEngine, clock: ManualClock, limit: int
) -> None:
    kit = detail_fetching_kit()
    app, state = kit.build(clock, Faults(latency=0.01), 7)
    kit.populate(state, 8)
    counted = InFlight(app)
    target = kit.target.model_copy(update={"http": HttpSettings(max_concurrency=limit)})
    async with runtime_for(engine, clock, {target: counted}) as rt:
        assert (await rt.sync_target(target.name)).status == "succeeded"
    assert counted.total >= 9  # the list and eight details
    assert counted.most == limit


async def test_rate_limit_per_account(engine: AsyncEngine, clock: ManualClock) -> None:
    kit = detail_fetching_kit()
    app, state = kit.build(clock, Faults(), 7)
    kit.populate(state, 12)
    counted = InFlight(app)
    target = kit.target.model_copy(update={"http": HttpSettings(rate_per_second=10)})
    async with runtime_for(engine, clock, {target: counted}) as rt:
        started = time.monotonic()
        assert (await rt.sync_target(target.name)).status == "succeeded"
        elapsed = time.monotonic() - started
    # 13 requests at 10 per second: the first 10 pass at once, the other 3 wait their turn.
    assert counted.total == 13
    assert elapsed >= 0.25
