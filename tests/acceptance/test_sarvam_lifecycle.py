"""Sarvam end to end: simulator → adapter → pipeline → PostgreSQL, on a controlled clock.

Sarvam has no paused_at, paused_by or finished_at: the tests pin down which
times the stored events carry instead (the provider's ``updated_at`` when it
moved, else the poll time).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import T0
from tests.helpers import (
    assert_quiet_cycle,
    count,
    errors,
    event_types,
    events,
    row,
    runtime_for,
    secret,
)
from worker.clock import ManualClock
from worker.config import SarvamTarget
from worker.domain.timestamps import to_iso8601
from worker.simulators.sarvam import create_app
from worker.simulators.sarvam_engine import SarvamCampaign, SarvamEngine, all_day
from worker.storage.tables import campaign_events
from worker.storage.views import campaigns

KEY, ORG, WORKSPACE = "sarvam-acceptance-key", "org-acme", "ws-main"
CAMPAIGNS = f"/v1/orgs/{ORG}/workspaces/{WORKSPACE}/campaigns"
TARGET = SarvamTarget(
    account="acme",
    base_url="http://sarvam.test/api/scheduling",
    api_key=secret(KEY),
    org_id=ORG,
    workspace_id=WORKSPACE,
    page_size=2,
)
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def add(
    sim: SarvamEngine,
    name: str,
    *,
    start: datetime,
    end: datetime = T0 + 48 * HOUR,
    contacts: int = 10**6,
) -> str:
    campaign = SarvamCampaign(
        campaign_id=sim.next_id(),
        name=name,
        created_at=T0,
        start_timestamp=start,
        end_timestamp=end,
        allowed_schedule=all_day(),
        app_config={"app_id": "collections-agent", "app_version": 2, "app_type": "agent"},
        contacts=contacts,
        contacts_per_hour=60,
    )
    return sim.add(campaign).campaign_id


@pytest.fixture
def sim(clock: ManualClock) -> SarvamEngine:
    return SarvamEngine(clock, seed=11)


def app_for(sim: SarvamEngine) -> ASGIApp:
    return create_app(sim, api_key=KEY, org_id=ORG, workspace_id=WORKSPACE)


def client_for(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=TARGET.base_url,
        transport=httpx.ASGITransport(app=app),
        headers={"X-API-Key": KEY},
    )


async def typed_events(engine: AsyncEngine, campaign_id: str) -> list[dict[str, Any]]:
    return await events(engine, campaign_events.c.campaign_id == campaign_id)


async def test_whole_lifecycle_is_stored_as_the_exact_event_sequence(
    engine: AsyncEngine, clock: ManualClock, sim: SarvamEngine
) -> None:
    app = app_for(sim)
    async with runtime_for(engine, clock, {TARGET: app}) as rt, client_for(app) as api:

        async def create(name: str, start: datetime, end: datetime, contacts: int) -> str:
            body = {
                "name": name,
                "app_config": {"app_id": "collections-agent", "app_version": 2},
                "start_timestamp": to_iso8601(start),
                "end_timestamp": to_iso8601(end),
                # Equal times: all day; timezone and days take their defaults.
                "allowed_schedule": {"allowed_start_time": "00:00", "allowed_end_time": "00:00"},
                "_sim": {"contacts": contacts, "contacts_per_hour": 60},
            }
            response = await api.post(CAMPAIGNS, json=body)
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "scheduled"
            campaign_id: str = response.json()["campaign_id"]
            return campaign_id

        # 120 contacts at 60/h: two hours of dialing, split by a user pause.
        lifecycle = await create("Lifecycle", T0 + HOUR, T0 + 48 * HOUR, 120)
        cancelled = await create("Cancelled", T0, T0 + 48 * HOUR, 10**6)
        ends = await create("Ends", T0 + HOUR, T0 + 3 * HOUR, 10**6)
        edited = await create("Edited", T0 + 10 * HOUR, T0 + 48 * HOUR, 10**6)

        async def poll_at(instant: datetime) -> None:
            clock.set(instant)
            summary = await rt.sync_target(TARGET.name)
            assert (summary.status, summary.rejected, summary.pages) == ("succeeded", 0, 2)

        async def act(campaign_id: str, action: str) -> None:
            response = await api.put(f"{CAMPAIGNS}/{campaign_id}/status", json={"action": action})
            assert response.status_code == 200, response.text

        await poll_at(T0 + 30 * MINUTE)
        await poll_at(T0 + 90 * MINUTE)  # lifecycle and ends went active at T0+1h
        clock.set(T0 + 105 * MINUTE)
        await act(lifecycle, "pause")  # 45 contacts dialed
        await act(cancelled, "cancel")
        patched = await api.patch(f"{CAMPAIGNS}/{edited}", json={"name": "Edited twice"})
        assert patched.status_code == 200
        await poll_at(T0 + 110 * MINUTE)
        clock.set(T0 + 2 * HOUR)
        await act(lifecycle, "resume")  # back to scheduled; picked up a minute later
        await poll_at(T0 + 2 * HOUR + timedelta(seconds=30))
        await poll_at(T0 + 150 * MINUTE)  # active again since T0+2h01
        await poll_at(T0 + 4 * HOUR)  # 75 more contacts: ended at T0+3h16; ends ended at T0+3h

        await assert_quiet_cycle(rt, engine, TARGET.name)

    resumed_at, reactivated_at = T0 + 2 * HOUR, T0 + 2 * HOUR + MINUTE
    finished_at = reactivated_at + 75 * MINUTE
    timeline = [(e["type"], e["occurred_at"]) for e in await typed_events(engine, lifecycle)]
    assert timeline == [
        ("campaign.discovered", T0),
        ("campaign.status_changed", T0 + HOUR),
        # No paused_at at Sarvam: the pause is dated by its updated_at, the pause action.
        ("campaign.status_changed", T0 + 105 * MINUTE),
        ("campaign.paused", T0 + 105 * MINUTE),
        ("campaign.status_changed", resumed_at),
        ("campaign.resumed", resumed_at),
        ("campaign.status_changed", reactivated_at),
        ("campaign.status_changed", finished_at),
        ("campaign.finished", finished_at),
    ]
    stored_events = await typed_events(engine, lifecycle)
    statuses = [
        (e["data"]["before"]["status_raw"], e["data"]["after"]["status_raw"])
        for e in stored_events
        if e["type"] == "campaign.status_changed"
    ]
    assert statuses == [
        ("scheduled", "active"),
        ("active", "paused"),
        ("paused", "scheduled"),
        ("scheduled", "active"),
        ("active", "ended"),
    ]
    paused = next(e for e in stored_events if e["type"] == "campaign.paused")
    assert paused["data"] == {
        "paused_by": "unknown",
        "paused_at": None,
        "status_raw": "paused",
        "inferred": False,
    }
    resumed = next(e for e in stored_events if e["type"] == "campaign.resumed")
    assert (resumed["data"]["paused_by"], resumed["data"]["status_raw"]) == ("unknown", "scheduled")
    finished = stored_events[-1]["data"]
    assert (finished["outcome"], finished["status_raw"], finished["finished_at"]) == (
        "completed",
        "ended",
        None,
    )

    assert [(e["type"], e["occurred_at"]) for e in await typed_events(engine, cancelled)] == [
        ("campaign.discovered", T0),
        ("campaign.status_changed", T0 + 105 * MINUTE),
        ("campaign.finished", T0 + 105 * MINUTE),
    ]
    cancel_event = (await typed_events(engine, cancelled))[-1]["data"]
    assert (cancel_event["outcome"], cancel_event["status_raw"]) == ("canceled", "cancelled")

    assert [(e["type"], e["occurred_at"]) for e in await typed_events(engine, ends)] == [
        ("campaign.discovered", T0),
        ("campaign.status_changed", T0 + HOUR),
        ("campaign.status_changed", T0 + 3 * HOUR),
        ("campaign.finished", T0 + 3 * HOUR),  # the provider's end_timestamp
    ]

    edits = await typed_events(engine, edited)
    assert [(e["type"], e["occurred_at"]) for e in edits] == [
        ("campaign.discovered", T0),
        ("campaign.updated", T0 + 105 * MINUTE),
    ]
    assert edits[1]["data"]["changes"] == {"name": {"before": "Edited", "after": "Edited twice"}}

    stored_row = await row(
        engine,
        "SELECT status, status_raw, paused_by, finished_at, provider_updated_at, "
        "scheduled_start_at, scheduled_end_at, created_at, total_calls, call_window "
        "FROM campaigns WHERE campaign_id = :cid",
        cid=lifecycle,
    )
    assert stored_row == {
        "status": "completed",
        "status_raw": "ended",
        "paused_by": None,
        "finished_at": None,
        "provider_updated_at": finished_at,
        "scheduled_start_at": T0 + HOUR,
        "scheduled_end_at": T0 + 48 * HOUR,
        "created_at": T0,
        "total_calls": None,
        "call_window": {
            "timezone": "Asia/Kolkata",
            "ranges": [
                {
                    "days": [
                        "Monday",
                        "Tuesday",
                        "Wednesday",
                        "Thursday",
                        "Friday",
                        "Saturday",
                        "Sunday",
                    ],
                    "start_min": 0,
                    "end_min": 0,
                }
            ],
            "auto_resume": None,
        },
    }
    assert await errors(engine) == []


class DeleteAfterList:
    """Deletes one campaign right after the list is served, before its detail is asked for."""

    def __init__(self, app: ASGIApp, sim: SarvamEngine, victim: str) -> None:
        self.app, self.sim, self.victim = app, sim, victim
        self.detail_statuses: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_list = scope["type"] == "http" and scope["path"].endswith("/campaigns")

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start" and not is_list:
                self.detail_statuses.append(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if is_list:
            self.sim.remove(self.victim)


async def test_a_detail_404_keeps_the_list_item_and_the_cycle_succeeds(
    engine: AsyncEngine, clock: ManualClock, sim: SarvamEngine
) -> None:
    kept, victim = add(sim, "Kept", start=T0), add(sim, "Deleted", start=T0)
    clock.set(T0 + HOUR)
    app = DeleteAfterList(app_for(sim), sim, victim)
    async with runtime_for(engine, clock, {TARGET.model_copy(update={"page_size": 10}): app}) as rt:
        summary = await rt.sync_target(TARGET.name)
    assert (summary.status, summary.records, summary.rejected) == ("succeeded", 2, 0)
    assert sorted(app.detail_statuses) == [200, 404]
    stored = await row(
        engine,
        "SELECT status, scheduled_start_at, call_window, raw FROM campaigns "
        "WHERE campaign_id = :cid",
        cid=victim,
    )
    assert (stored["status"], stored["scheduled_start_at"], stored["call_window"]) == (
        "running",
        None,
        None,
    )
    assert "allowed_schedule" not in stored["raw"]  # the list item alone
    full = await row(
        engine, "SELECT scheduled_start_at FROM campaigns WHERE campaign_id = :cid", cid=kept
    )
    assert full["scheduled_start_at"] == T0
    assert await event_types(engine, victim) == ["campaign.discovered"]


class FailingDetails:
    """Answers every detail request with a 500, as a broken upstream would."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].endswith("/campaigns"):
            body = b'{"error":{"message":"Internal server error","code":"internal_server_error"}}'
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


async def test_a_failing_detail_defers_that_campaign_and_the_cycle_is_partial(
    engine: AsyncEngine, clock: ManualClock, sim: SarvamEngine
) -> None:
    add(sim, "One", start=T0)
    async with runtime_for(engine, clock, {TARGET: FailingDetails(app_for(sim))}) as rt:
        summary = await rt.sync_target(TARGET.name)
    assert (summary.status, summary.deferred, summary.changed) == ("partial", 1, 0)
    assert await count(engine, campaigns) == 0  # nothing half-read was stored
    (deferred,) = await errors(engine)
    assert deferred["kind"] == "detail"
    assert "returned 500" in deferred["reason"]
    assert KEY not in deferred["reason"]


async def test_without_details_the_list_items_are_stored(
    engine: AsyncEngine, clock: ManualClock, sim: SarvamEngine
) -> None:
    cid = add(sim, "Listed", start=T0)
    clock.set(T0 + HOUR)
    target = TARGET.model_copy(update={"fetch_detail": False})
    app = FailingDetails(app_for(sim))  # proves no detail is asked for
    async with runtime_for(engine, clock, {target: app}) as rt:
        summary = await rt.sync_target(target.name)
    assert (summary.status, summary.records) == ("succeeded", 1)
    stored = await row(
        engine,
        "SELECT status, provider_updated_at, scheduled_start_at FROM campaigns "
        "WHERE campaign_id = :cid",
        cid=cid,
    )
    assert stored == {"status": "running", "provider_updated_at": T0, "scheduled_start_at": None}
