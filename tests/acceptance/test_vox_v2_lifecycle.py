"""vox v2 end to end: whole campaign lifecycles from the simulator into PostgreSQL.

Campaigns are created through ``POST /v2/campaigns`` and read back through
``POST /v2/campaigns/list`` by the real pipeline. v2 has no pause, resume or
cancel endpoint, so a user's actions go through the v3 API of the same
organization (one engine behind both views), as a dashboard user's would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import T0
from tests.helpers import (
    VOX_KEY,
    count,
    event_types,
    events,
    history_count,
    row,
    runtime_for,
    secret,
)
from tests.kits.vox_v2 import SEOUL_DAY
from worker.clock import ManualClock
from worker.config import VoxV2Target
from worker.domain.timestamps import to_iso8601
from worker.runtime.app import Runtime
from worker.simulators import vox_v3
from worker.simulators.vox_engine import VoxEngine
from worker.simulators.vox_v2 import DEMO_API_KEY, create_app, demo_app
from worker.storage.tables import campaign_events

TARGET = VoxV2Target(
    account="acme", base_url="http://vox.test", api_key=secret(VOX_KEY), page_size=2
)
AUTH = {"Authorization": f"Bearer {VOX_KEY}"}
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


class Vox:
    """One vox organization: the engine, its v2 app (polled) and a v3 client (for actions)."""

    def __init__(self, clock: ManualClock) -> None:
        self.engine = VoxEngine(clock, seed=11)
        self.v2 = create_app(self.engine, api_key=VOX_KEY)
        self._v3 = httpx.ASGITransport(app=vox_v3.create_app(self.engine, api_key=VOX_KEY))
        self._v2 = httpx.ASGITransport(app=self.v2)

    async def create(self, tasks: int, **extra: Any) -> str:
        body = {
            "name": f"lifecycle of {tasks}",
            "call_from": "01012345678",
            "agent_id": "550e8400-e29b-41d4-a716-446655440000",
            "tasks": [{"call_to": f"010{n:08d}"} for n in range(tasks)],
            **extra,
        }
        async with httpx.AsyncClient(transport=self._v2, base_url="http://vox.test") as http:
            response = await http.post("/v2/campaigns", json=body, headers=AUTH)
        assert response.status_code == 200, response.text
        cid: str = response.json()["id"]
        return cid

    async def act(self, cid: str, action: str) -> None:
        async with httpx.AsyncClient(transport=self._v3, base_url="http://vox.test") as http:
            response = await http.post(f"/v3/campaigns/{cid}/{action}", headers=AUTH)
        assert response.status_code == 200, response.text


@pytest.fixture
def vox(clock: ManualClock) -> Vox:
    return Vox(clock)


@pytest.fixture
async def rt(engine: AsyncEngine, clock: ManualClock, vox: Vox) -> AsyncIterator[Runtime]:
    async with runtime_for(engine, clock, {TARGET: vox.v2}) as runtime:
        yield runtime


async def sync(rt: Runtime) -> int:
    summary = await rt.sync_target(TARGET.name)
    assert (summary.status, summary.rejected) == ("succeeded", 0), summary
    return summary.events


async def of_type(engine: AsyncEngine, cid: str, kind: str) -> list[dict[str, Any]]:
    return await events(
        engine, campaign_events.c.campaign_id == cid, campaign_events.c.type == f"campaign.{kind}"
    )


async def test_whole_lifecycles_give_exact_event_sequences_at_provider_times(
    engine: AsyncEngine, clock: ManualClock, vox: Vox, rt: Runtime
) -> None:
    # A: scheduled, started, paused by a user, resumed, paused by the window,
    # auto-resumed and finished. 520 calls at 2.5 a minute need 208 minutes.
    main = await vox.create(
        520,
        scheduled_at="2026-03-02T00:30:00Z",
        call_time_window=SEOUL_DAY,
        _sim={"seconds_per_call": 120},
    )
    canceled = await vox.create(400, _sim={"seconds_per_call": 120})  # B: runs, then canceled
    failed = await vox.create(10, _sim={"seconds_per_call": 120, "success_percent": 0})  # C
    await sync(rt)  # 00:00

    clock.set(T0 + 30 * MINUTE)  # A: pending; C dialed 00:01-00:05 and failed
    await sync(rt)
    clock.set(T0 + 45 * MINUTE)  # A: ongoing since 00:31
    await sync(rt)
    clock.set(T0 + HOUR)
    await vox.act(main, "pause")
    await vox.act(canceled, "cancel")
    await sync(rt)
    clock.set(T0 + 90 * MINUTE)
    await vox.act(main, "resume")
    await sync(rt)
    clock.set(T0 + 3 * HOUR + 10 * MINUTE)  # the 12:00 KST close paused A at 03:00Z
    await sync(rt)
    clock.set(T0 + 4 * HOUR + 10 * MINUTE)  # 13:00 KST: auto-resumed at 04:00Z
    await sync(rt)
    # Dialed 29 + 90 minutes before the close; 89 more after 04:00Z end it at 05:29Z.
    clock.set(T0 + 5 * HOUR + 30 * MINUTE)
    await sync(rt)

    assert await event_types(engine, main) == [
        "campaign.discovered",
        "campaign.status_changed",  # draft → pending
        "campaign.status_changed",  # pending → ongoing
        "campaign.progress",
        "campaign.status_changed",  # user pause
        "campaign.paused",
        "campaign.progress",
        "campaign.status_changed",  # user resume
        "campaign.resumed",
        "campaign.progress",
        "campaign.status_changed",  # window closed
        "campaign.paused",
        "campaign.progress",
        "campaign.status_changed",  # window reopened
        "campaign.resumed",
        "campaign.progress",
        "campaign.status_changed",  # success
        "campaign.finished",
        "campaign.progress",
    ]
    assert await event_types(engine, canceled) == [
        "campaign.discovered",
        "campaign.status_changed",  # pending → ongoing
        "campaign.progress",
        "campaign.progress",
        "campaign.status_changed",  # canceled
        "campaign.finished",
        "campaign.progress",
    ]
    assert await event_types(engine, failed) == [
        "campaign.discovered",
        "campaign.status_changed",  # pending → fail; the run in between was never seen
        "campaign.finished",
        "campaign.progress",
    ]

    pauses = await of_type(engine, main, "paused")
    assert [(e["occurred_at"], e["data"]["paused_by"], e["data"]["inferred"]) for e in pauses] == [
        (T0 + HOUR, "user", False),
        (T0 + 3 * HOUR, "system", False),
    ]
    assert [e["data"]["paused_at"] for e in pauses] == [
        to_iso8601(T0 + HOUR),
        to_iso8601(T0 + 3 * HOUR),
    ]
    resumes = await of_type(engine, main, "resumed")
    assert [(e["data"]["paused_by"], e["data"]["status_raw"]) for e in resumes] == [
        ("user", "ongoing"),
        ("system", "ongoing"),
    ]
    finishes = {
        cid: (await of_type(engine, cid, "finished"))[0] for cid in (main, canceled, failed)
    }
    expected: dict[str, tuple[str, datetime]] = {
        main: ("completed", T0 + 5 * HOUR + 29 * MINUTE),
        canceled: ("canceled", T0 + HOUR),
        failed: ("failed", T0 + 5 * MINUTE),
    }
    for cid, (outcome, at) in expected.items():
        event = finishes[cid]
        assert (event["data"]["outcome"], event["occurred_at"]) == (outcome, at)
        assert event["data"]["finished_at"] == to_iso8601(at)
    assert finishes[main]["data"]["counters"]["total_calls"] == 520
    assert finishes[failed]["data"]["counters"]["completed_calls"] == 0
    assert finishes[failed]["data"]["counters"]["failed_calls"] == 10

    stored = await row(
        engine,
        "SELECT status, status_raw, paused_by, paused_at, created_at, scheduled_start_at,"
        " finished_at, version, raw->>'organization_id' AS org, raw->>'agent_version' AS agent"
        " FROM campaigns WHERE campaign_id = :cid",
        cid=main,
    )
    assert stored == {
        "status": "completed",
        "status_raw": "success",
        "paused_by": None,
        "paused_at": None,
        "created_at": T0,
        "scheduled_start_at": T0 + 30 * MINUTE,
        "finished_at": T0 + 5 * HOUR + 29 * MINUTE,
        "version": 8,
        "org": "550e8400-e29b-41d4-a716-446655440001",
        "agent": "production",
    }

    # A second cycle on an unchanged clock writes nothing at all.
    history, stored_events = await history_count(engine), await count(engine, campaign_events)
    assert await sync(rt) == 0
    assert await history_count(engine) == history
    assert await count(engine, campaign_events) == stored_events


async def test_the_demo_fleet_tells_its_story_through_the_pipeline(engine: AsyncEngine) -> None:
    clock = ManualClock(T0 + 2 * HOUR + 50 * MINUTE)  # when `campaign-sync demo` starts
    app, _ = demo_app(clock, seed=1)
    target = TARGET.model_copy(update={"api_key": secret(DEMO_API_KEY)})
    async with runtime_for(engine, clock, {target: app}) as runtime:
        for _ in range(6 * 4):
            summary = await runtime.sync_target(target.name)
            assert (summary.status, summary.records) == ("succeeded", 7)
            clock.advance(15 * MINUTE)

    async def story(cid: str) -> list[str]:
        return [t for t in await event_types(engine, cid) if t != "campaign.progress"]

    changed, paused, resumed, finished = (
        f"campaign.{kind}" for kind in ("status_changed", "paused", "resumed", "finished")
    )
    assert await story("200101") == [
        "campaign.discovered",
        *(changed, paused),
        *(changed, resumed),
        *(changed, finished),
    ]
    assert await story("200102") == ["campaign.discovered", changed, changed, changed, finished]
    assert await story("200103") == ["campaign.discovered", changed, paused]
    assert await story("200104") == ["campaign.discovered", changed, finished]
    assert await story("200105") == ["campaign.discovered", changed, changed, paused]
    assert await story("200106") == await story("200107") == ["campaign.discovered"]
    vip = await row(engine, "SELECT status, paused_by FROM campaigns WHERE campaign_id = '200107'")
    assert vip == {"status": "paused", "paused_by": "user"}
