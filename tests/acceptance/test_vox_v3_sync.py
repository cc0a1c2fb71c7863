"""vox v3 end to end: simulator → adapter → pipeline → PostgreSQL, on a controlled clock."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import T0
from tests.helpers import (
    VOX_KEY,
    assert_quiet_cycle,
    count,
    errors,
    event_types,
    events,
    history_count,
    row,
    runtime_for,
    secret,
)
from worker.clock import ManualClock
from worker.config import VoxV3Target
from worker.domain.timestamps import to_iso8601
from worker.domain.windows import CallWindow, Weekday, WindowRange
from worker.simulators.faults import Faults
from worker.simulators.vox_engine import VoxCampaign, VoxEngine
from worker.simulators.vox_v3 import create_app
from worker.storage.tables import campaign_events, sync_errors
from worker.storage.views import campaigns

TARGET = VoxV3Target(
    account="acme", base_url="http://vox.test", api_key=secret(VOX_KEY), page_size=2
)
SEOUL_MORNING = CallWindow(
    timezone="Asia/Seoul",
    # Monday 09:00-12:00 and 13:00-18:00 KST; T0 is Monday 09:00 KST.
    ranges=(
        WindowRange(days=(Weekday.MONDAY,), start_min=9 * 60, end_min=12 * 60),
        WindowRange(days=(Weekday.MONDAY,), start_min=13 * 60, end_min=18 * 60),
    ),
    auto_resume=True,
)


def campaign(
    cid: str, *, calls: int = 2000, window: CallWindow | None = SEOUL_MORNING
) -> VoxCampaign:
    return VoxCampaign(
        id=cid,
        name=f"campaign {cid}",
        created_at=T0 - timedelta(hours=1),
        scheduled_at=T0,
        total_calls=calls,
        call_window=window,
    )


@pytest.fixture
def vox(clock: ManualClock) -> VoxEngine:
    engine = VoxEngine(clock, seed=7)
    for cid in ("101", "102", "103"):
        engine.add(campaign(cid))
    engine.add(campaign("104", window=None))  # no window: never paused by the system
    return engine


async def test_second_cycle_with_unchanged_clock_writes_nothing(
    engine: AsyncEngine, clock: ManualClock, vox: VoxEngine
) -> None:
    clock.advance(timedelta(minutes=30))
    async with runtime_for(engine, clock, {TARGET: create_app(vox, api_key=VOX_KEY)}) as rt:
        first = await rt.sync_target(TARGET.name)
        assert (first.status, first.records, first.changed, first.pages) == ("succeeded", 4, 4, 2)
        assert await count(engine, campaigns) == 4
        assert await history_count(engine) == 4
        assert await count(engine, campaign_events) == 4  # one campaign.discovered each
        await assert_quiet_cycle(rt, engine, TARGET.name)


async def test_window_close_gives_one_system_pause_per_campaign_at_paused_at(
    engine: AsyncEngine, clock: ManualClock, vox: VoxEngine
) -> None:
    clock.advance(timedelta(minutes=30))
    async with runtime_for(engine, clock, {TARGET: create_app(vox, api_key=VOX_KEY)}) as rt:
        await rt.sync_target(TARGET.name)
        clock.advance(timedelta(hours=3))  # 12:30 KST: the morning window closed at 12:00
        summary = await rt.sync_target(TARGET.name)
        assert summary.status == "succeeded"
        await rt.sync_target(TARGET.name)  # again: nothing new may appear

    window_end = T0 + timedelta(hours=3)
    paused = await events(engine, campaign_events.c.type == "campaign.paused")
    assert sorted(e["campaign_id"] for e in paused) == ["101", "102", "103"]
    for event in paused:
        assert event["data"]["paused_by"] == "system"
        assert event["data"]["inferred"] is False
        assert event["occurred_at"] == window_end  # the simulator's paused_at, not the poll time
        assert event["data"]["paused_at"] == to_iso8601(window_end)
    stored = await row(
        engine,
        "SELECT status, status_raw, paused_by, paused_at FROM campaigns WHERE campaign_id = '101'",
    )
    assert stored == {
        "status": "paused",
        "status_raw": "paused",
        "paused_by": "system",
        "paused_at": window_end,
    }
    assert await event_types(engine, "104") == ["campaign.discovered", "campaign.progress"]


async def test_pause_then_resume_when_the_window_reopens(
    engine: AsyncEngine, clock: ManualClock, vox: VoxEngine
) -> None:
    clock.advance(timedelta(minutes=30))
    async with runtime_for(engine, clock, {TARGET: create_app(vox, api_key=VOX_KEY)}) as rt:
        await rt.sync_target(TARGET.name)
        clock.advance(timedelta(hours=3))  # 12:30 KST, paused
        await rt.sync_target(TARGET.name)
        clock.advance(timedelta(hours=1))  # 13:30 KST, resumed at 13:00
        await rt.sync_target(TARGET.name)

    assert await event_types(engine, "101") == [
        "campaign.discovered",
        "campaign.status_changed",
        "campaign.paused",
        "campaign.progress",
        "campaign.status_changed",
        "campaign.resumed",
        "campaign.progress",
    ]
    resumed = (await events(engine, campaign_events.c.type == "campaign.resumed"))[0]
    assert resumed["data"]["paused_by"] == "system"
    assert resumed["data"]["status_raw"] == "ongoing"


async def test_bad_records_are_quarantined_and_the_rest_is_stored(
    engine: AsyncEngine, clock: ManualClock, vox: VoxEngine
) -> None:
    clock.advance(timedelta(minutes=30))
    faults = Faults(malformed={"101": "bad_time", "102": "unknown_status", "103": "missing_id"})
    async with runtime_for(
        engine, clock, {TARGET: create_app(vox, api_key=VOX_KEY, faults=faults)}
    ) as rt:
        summary = await rt.sync_target(TARGET.name)
        again = await rt.sync_target(TARGET.name)

    assert summary.status == "succeeded"
    assert summary.rejected == 2  # the unknown status is stored, not rejected
    stored = {r["campaign_id"]: r["status"] for r in await rows_of(engine)}
    assert stored == {"102": "unknown", "104": "running"}
    by_kind = {(e["kind"], e["campaign_id"]): e for e in await errors(engine)}
    bad_time = by_kind[("normalization", "101")]
    assert bad_time["field"] == "created_at"
    assert bad_time["reason"].startswith(
        "created_at='2026-03-01T23:00:00Z': expected integer unix milliseconds"
    )
    assert bad_time["raw"]["id"] == "101"
    missing = by_kind[("normalization", None)]
    assert missing["reason"] == "id=<missing>: required"
    assert "id" not in missing["raw"]
    unknown = by_kind[("unknown_status", "102")]
    assert "'archived' is not in the vox_v3 status table" in unknown["reason"]
    # The second cycle sees the same bad records: counted again, never duplicated. The
    # campaign with the unknown status is stored and unchanged, so it is not read again.
    assert again.rejected == 2
    assert await count(engine, sync_errors) == 3
    occurrences = {(e["kind"], e["campaign_id"]): e["occurrences"] for e in await errors(engine)}
    assert occurrences == {
        ("normalization", "101"): 2,
        ("normalization", None): 2,
        ("unknown_status", "102"): 1,
    }


async def rows_of(engine: AsyncEngine) -> list[dict[str, object]]:
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(select(campaigns))]


async def test_an_unknown_status_is_reported_once_per_value_and_target(
    engine: AsyncEngine, clock: ManualClock, vox: VoxEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="worker.pipeline")
    faults = Faults(malformed={"101": "unknown_status", "102": "unknown_status"})
    async with runtime_for(
        engine, clock, {TARGET: create_app(vox, api_key=VOX_KEY, faults=faults)}
    ) as rt:
        for _ in range(3):
            clock.advance(timedelta(minutes=5))
            assert (await rt.sync_target(TARGET.name)).status == "succeeded"
    logged = [r for r in caplog.records if getattr(r, "event", "") == "sync.schema_drift"]
    assert [r.getMessage() for r in logged] == [
        "vox_v3/acme: schema drift: status = 'archived' (campaign 102)"
    ]
    (drift,) = await events(engine, campaign_events.c.type == "provider.schema_drift")
    assert drift["data"] == {"field": "status", "value": "archived", "example_campaign_id": "102"}
    assert (drift["campaign_id"], drift["version"]) == ("", 0)
    unknown = [e for e in await errors(engine) if e["kind"] == "unknown_status"]
    assert len(unknown) == 1  # one row per value and target, however many campaigns carry it
    assert unknown[0]["occurrences"] == 6
