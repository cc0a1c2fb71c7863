"""VOXO end to end: simulator → adapter → pipeline → PostgreSQL, over whole lifecycles.

The clock starts at T0 = 2026-03-02 00:00Z, which is 2026-03-01 18:00 in
Chicago (CST, UTC-6). A user pauses and resumes by PATCHing ``state`` over
HTTP, the only way VOXO campaigns change state; READY's running and completed
statuses are derived from the dates, so their events carry the scheduled times.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import T0
from tests.helpers import assert_quiet_cycle, count, errors, event_types, events, row, runtime_for
from tests.kits.voxo import EMAIL, PASSWORD, TARGET, TENANT, campaign
from worker.clock import ManualClock
from worker.domain.timestamps import to_iso8601
from worker.runtime.app import Runtime
from worker.simulators.faults import Faults
from worker.simulators.voxo import create_app
from worker.simulators.voxo_engine import VoxoEngine
from worker.storage.tables import campaign_events, sync_errors

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
ACME = TARGET.model_copy(update={"account": "acme", "page_size": 100})
ADMIN_EMAIL = "admin@voxo.test"
ADMIN_PASSWORD = "voxo-admin-password"


class LoginCounter:
    """Counts the adapter's logins (``/authentication``) in front of the simulator."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.logins = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/authentication":
            self.logins += 1
        await self.app(scope, receive, send)


@pytest.fixture
def voxo(clock: ManualClock) -> VoxoEngine:
    sim = VoxoEngine(clock, seed=5, token_lifetime=5 * HOUR)
    sim.add_user(EMAIL, PASSWORD, TENANT)
    sim.add_user(ADMIN_EMAIL, ADMIN_PASSWORD, TENANT)  # the person who PATCHes
    return sim


@asynccontextmanager
async def user_session(app: ASGIApp) -> AsyncIterator[Any]:
    """A VOXO user who logs in as third-party apps do (``/v2/authentication``) and PATCHes."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://voxo.test") as client:

        async def set_state(campaign_id: int, state: str) -> None:
            login = await client.post(
                "/v2/authentication",
                json={"strategy": "local", "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            )
            assert login.status_code == 201
            response = await client.patch(
                f"/v2/admin/call-campaigns/{campaign_id}",
                json={"state": state},
                headers={"Authorization": f"Bearer {login.json()['accessToken']}"},
            )
            assert response.status_code == 200, response.text

        yield set_state


async def cycle(rt: Runtime, clock: ManualClock, at: datetime) -> None:
    clock.set(at)
    summary = await rt.sync_target(ACME.name)
    assert (summary.status, summary.rejected) == ("succeeded", 0), summary.error


def iso(at: datetime) -> str:
    return to_iso8601(at)


async def test_a_campaign_runs_pauses_resumes_and_completes(
    engine: AsyncEngine, clock: ManualClock, voxo: VoxoEngine
) -> None:
    # A: 20:00-02:00 Chicago (T0+2h to T0+8h), a dial a minute, 100 numbers.
    a = voxo.add(campaign(voxo, start=T0 + 2 * HOUR, end=T0 + 8 * HOUR, numbers=100))
    # B: paused by its user before T0; armed again only after its end (T0+5h).
    b = voxo.add(campaign(voxo, start=T0 - HOUR, end=T0 + 5 * HOUR, state="PAUSED", numbers=10))
    app = LoginCounter(create_app(voxo))
    async with runtime_for(engine, clock, {ACME: app}) as rt, user_session(app) as set_state:
        await cycle(rt, clock, T0)  # A scheduled, B paused
        await cycle(rt, clock, T0 + 2 * HOUR + 30 * MINUTE)  # A started at T0+2h
        clock.set(T0 + 3 * HOUR)
        await set_state(a.id, "PAUSED")
        await cycle(rt, clock, T0 + 3 * HOUR)
        clock.set(T0 + 4 * HOUR)
        await set_state(a.id, "READY")
        await cycle(rt, clock, T0 + 4 * HOUR + 10 * MINUTE)
        clock.set(T0 + 6 * HOUR)
        await set_state(b.id, "READY")
        await cycle(rt, clock, T0 + 6 * HOUR)  # the token from T0 expired at T0+5h
        await cycle(rt, clock, T0 + 8 * HOUR + 30 * MINUTE)  # A ended at T0+8h

        await assert_quiet_cycle(rt, engine, ACME.name)

    assert app.logins == 2  # one login, one re-login after the token expired
    assert await event_types(engine, str(a.id)) == [
        "campaign.discovered",
        "campaign.status_changed",  # scheduled -> running
        "campaign.progress",
        "campaign.status_changed",  # running -> paused
        "campaign.paused",
        "campaign.progress",
        "campaign.status_changed",  # paused -> running
        "campaign.resumed",
        "campaign.progress",
        "campaign.progress",  # the last number dialed at T0+4h38
        "campaign.status_changed",  # running -> completed
        "campaign.finished",
    ]
    assert await event_types(engine, str(b.id)) == [
        "campaign.discovered",
        "campaign.status_changed",  # paused -> completed: armed after its end
        "campaign.finished",
    ]

    timeline = [
        (e["type"].removeprefix("campaign."), e["occurred_at"], e["data"])
        for e in await events(engine, campaign_events.c.campaign_id == str(a.id))
    ]
    started, progress, paused = timeline[1], timeline[2], timeline[4]
    resumed, finished = timeline[7], timeline[11]
    assert started[1] == T0 + 2 * HOUR  # the provider's scheduled start, not the poll
    # After a user pause, READY again is dated by the poll that saw it, never by the
    # (earlier) scheduled start.
    assert timeline[6][:2] == ("status_changed", T0 + 4 * HOUR + 10 * MINUTE)
    assert started[2]["after"] == {
        "status": "running",
        "status_raw": "READY",
        "status_derived": True,
    }
    assert progress[1] == T0 + 2 * HOUR + 30 * MINUTE  # lastrun, the dial at the poll instant
    assert progress[2]["after"]["last_run_at"] == iso(T0 + 2 * HOUR + 30 * MINUTE)
    assert progress[2]["after"]["total_calls"] is None  # VOXO reports no counters
    assert paused[1] == T0 + 3 * HOUR  # no paused_at from VOXO: the poll that saw it
    assert (paused[2]["paused_by"], paused[2]["inferred"]) == ("user", False)
    assert (resumed[1], resumed[2]["paused_by"]) == (T0 + 4 * HOUR + 10 * MINUTE, "user")
    assert [t[1] for t in timeline[8:10]] == [
        T0 + 4 * HOUR + 10 * MINUTE,
        T0 + 4 * HOUR + 38 * MINUTE,
    ]
    assert timeline[10][1] == finished[1] == T0 + 8 * HOUR  # the provider's scheduled end
    assert (finished[2]["outcome"], finished[2]["status_raw"]) == ("completed", "READY")
    b_finished = (await events(engine, campaign_events.c.type == "campaign.finished"))[0]
    assert (b_finished["campaign_id"], b_finished["occurred_at"]) == (str(b.id), T0 + 5 * HOUR)

    stored_a = await row(
        engine,
        "SELECT status, status_raw, status_derived, paused_by, scheduled_start_at, "
        "scheduled_end_at, last_run_at, finished_at, call_window, version "
        "FROM campaigns WHERE campaign_id = :id",
        id=str(a.id),
    )
    assert stored_a == {
        "status": "completed",
        "status_raw": "READY",
        "status_derived": True,
        "paused_by": None,
        "scheduled_start_at": T0 + 2 * HOUR,
        "scheduled_end_at": T0 + 8 * HOUR,
        "last_run_at": T0 + 4 * HOUR + 38 * MINUTE,
        "finished_at": None,
        "call_window": None,
        "version": 6,
    }


async def test_call_hours_move_lastrun_but_never_the_status(
    engine: AsyncEngine, clock: ManualClock, voxo: VoxoEngine
) -> None:
    # In its dates for days, dialing only 19:00-19:05 Chicago (T0+1h to T0+1h05).
    c = voxo.add(
        campaign(
            voxo,
            start=T0 - HOUR,
            end=T0 + 72 * HOUR,
            numbers=50,
            call_hours_start="19:00",
            call_hours_end="19:05",
        )
    )
    async with runtime_for(engine, clock, {ACME: create_app(voxo)}) as rt:
        await cycle(rt, clock, T0)
        await cycle(rt, clock, T0 + 30 * MINUTE)  # call hours still closed: nothing
        await cycle(rt, clock, T0 + 2 * HOUR)  # dialed 19:00-19:04
        await cycle(rt, clock, T0 + 3 * HOUR)  # closed again: nothing

    assert await event_types(engine, str(c.id)) == ["campaign.discovered", "campaign.progress"]
    progress = (await events(engine, campaign_events.c.type == "campaign.progress"))[0]
    assert progress["occurred_at"] == T0 + HOUR + 4 * MINUTE
    stored = await row(
        engine, "SELECT status, call_window FROM campaigns WHERE campaign_id = :id", id=str(c.id)
    )
    assert stored == {
        "status": "running",
        "call_window": {
            "timezone": "America/Chicago",
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
                    "start_min": 19 * 60,
                    "end_min": 19 * 60 + 5,
                }
            ],
            "auto_resume": None,
        },
    }


async def test_malformed_records_are_quarantined_and_the_rest_stored(
    engine: AsyncEngine, clock: ManualClock, voxo: VoxoEngine
) -> None:
    ids = [voxo.add(campaign(voxo, start=T0 - HOUR, end=T0 + HOUR)).id for _ in range(4)]
    kinds = ("bad_time", "unknown_status", "missing_id", "wrong_type")
    faults = Faults(malformed=dict(zip(map(str, ids), kinds, strict=True)))
    async with runtime_for(engine, clock, {ACME: create_app(voxo, faults=faults)}) as rt:
        summary = await rt.sync_target(ACME.name)

    assert (summary.status, summary.records, summary.rejected) == ("succeeded", 4, 3)
    stored = await row(
        engine, "SELECT campaign_id, status, status_raw FROM campaigns WHERE status = 'unknown'"
    )
    assert stored == {"campaign_id": str(ids[1]), "status": "unknown", "status_raw": "EXPIRED"}
    reasons = {(e["kind"], e["field"]): e for e in await errors(engine)}
    assert reasons[("normalization", "lastrun")]["reason"] == (
        "lastrun='16/02/2022 14:33': expected 'YYYY-MM-DD HH:MM:SS'"
    )
    assert reasons[("normalization", "id")]["reason"] == "id=<missing>: required"
    assert reasons[("normalization", "tenantId")]["campaign_id"] == str(ids[3])
    assert "EXPIRED" in reasons[("unknown_status", "")]["reason"]
    assert await count(engine, sync_errors) == 4
