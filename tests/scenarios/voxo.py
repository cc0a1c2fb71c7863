"""VOXO lifecycles. The clock starts at T0 = 2026-03-02 00:00Z, 2026-03-01 18:00 in Chicago
(CST, UTC-6). A user pauses and resumes by PATCHing ``state`` over HTTP, the only way VOXO
campaigns change state; READY's running and completed statuses are read from the dates against
the clock, so their events carry the scheduled times."""

from __future__ import annotations

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conformance.backends import Backend
from tests.kits.voxo import EMAIL, PASSWORD, TARGET, TENANT, campaign
from tests.scenarios.harness import HOUR, MINUTE, T0, Harness, harness
from worker.clock import ManualClock
from worker.domain.timestamps import to_iso8601
from worker.simulators.voxo import create_app
from worker.simulators.voxo_engine import VoxoEngine

ACME = TARGET.model_copy(update={"account": "acme", "page_size": 100})
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@voxo.test", "voxo-admin-password"


class LoginCounter:
    """Counts the adapter's logins (``/authentication``) in front of the simulator."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.logins = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/authentication":
            self.logins += 1
        await self.app(scope, receive, send)


async def set_state(app: ASGIApp, campaign_id: int, state: str) -> None:
    """A VOXO user logs in as third-party apps do (``/v2/authentication``) and PATCHes."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://voxo.test") as client:
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


async def _sync(h: Harness) -> None:
    summary = await h.sync()
    assert (summary.status, summary.rejected) == ("succeeded", 0), summary.error


async def runs_pauses_resumes_and_completes(backend: Backend) -> None:
    clock = ManualClock(T0)
    sim = VoxoEngine(clock, seed=5, token_lifetime=5 * HOUR)
    sim.add_user(EMAIL, PASSWORD, TENANT)
    sim.add_user(ADMIN_EMAIL, ADMIN_PASSWORD, TENANT)  # the person who PATCHes
    # A: 20:00-02:00 Chicago (T0+2h to T0+8h), a dial a minute, 100 numbers.
    a = sim.add(campaign(sim, start=T0 + 2 * HOUR, end=T0 + 8 * HOUR, numbers=100))
    # B: paused by its user before T0; armed again only after its end (T0+5h).
    b = sim.add(campaign(sim, start=T0 - HOUR, end=T0 + 5 * HOUR, state="PAUSED", numbers=10))
    app = LoginCounter(create_app(sim))
    async with harness(backend, clock, ACME, app) as h:
        await _sync(h)  # A scheduled, B paused
        clock.set(T0 + 2 * HOUR + 30 * MINUTE)
        await _sync(h)  # A started at T0+2h
        clock.set(T0 + 3 * HOUR)
        await set_state(app, a.id, "PAUSED")
        await _sync(h)
        clock.set(T0 + 4 * HOUR)
        await set_state(app, a.id, "READY")
        clock.set(T0 + 4 * HOUR + 10 * MINUTE)
        await _sync(h)
        clock.set(T0 + 6 * HOUR)
        await set_state(app, b.id, "READY")
        await _sync(h)  # the token from T0 expired at T0+5h
        clock.set(T0 + 8 * HOUR + 30 * MINUTE)
        await _sync(h)  # A ended at T0+8h
        await h.assert_quiet_cycle()

        assert app.logins == 2  # one login, one re-login after the token expired
        await _assert_a(h, str(a.id))
        assert await h.event_types(str(b.id)) == [
            "campaign.discovered",
            "campaign.status_changed",  # paused -> completed: armed after its end
            "campaign.finished",
        ]
        (b_finished,) = await h.inspect.events(campaign_id=str(b.id), type="campaign.finished")
        assert b_finished["occurred_at"] == T0 + 5 * HOUR


async def _assert_a(h: Harness, a: str) -> None:
    assert await h.event_types(a) == [
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
    timeline = [
        (e["type"].removeprefix("campaign."), e["occurred_at"], e["data"])
        for e in await h.inspect.events(campaign_id=a)
    ]
    started, progress, paused = timeline[1], timeline[2], timeline[4]
    resumed, finished = timeline[7], timeline[11]
    assert started[1] == T0 + 2 * HOUR  # the provider's scheduled start, not the poll
    # After a user pause, READY again is dated by the poll that saw it.
    assert timeline[6][:2] == ("status_changed", T0 + 4 * HOUR + 10 * MINUTE)
    assert started[2]["after"] == {
        "status": "running",
        "status_raw": "READY",
        "status_derived": True,
    }
    assert progress[1] == T0 + 2 * HOUR + 30 * MINUTE  # lastrun, the dial at the poll instant
    assert progress[2]["after"]["last_run_at"] == to_iso8601(T0 + 2 * HOUR + 30 * MINUTE)
    assert (paused[1], paused[2]["paused_by"], paused[2]["inferred"]) == (
        T0 + 3 * HOUR,
        "user",
        False,
    )
    assert (resumed[1], resumed[2]["paused_by"]) == (T0 + 4 * HOUR + 10 * MINUTE, "user")
    assert timeline[10][1] == finished[1] == T0 + 8 * HOUR  # the provider's scheduled end
    assert (finished[2]["outcome"], finished[2]["status_raw"]) == ("completed", "READY")
    stored = await h.inspect.campaign(h.target, a)
    assert stored is not None
    assert {k: stored[k] for k in ("status", "status_derived", "last_run_at", "version")} == {
        "status": "completed",
        "status_derived": True,
        "last_run_at": T0 + 4 * HOUR + 38 * MINUTE,
        "version": 6,
    }
