"""vox v2 lifecycles: campaigns created through ``POST /v2/campaigns`` and polled through
``POST /v2/campaigns/list``. v2 has no pause, resume or cancel endpoint, so a user's actions go
through the v3 API of the same organization (one engine behind both), as a dashboard's would."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from tests.conformance.backends import Backend
from tests.scenarios.harness import HOUR, MINUTE, T0, Harness, harness
from worker.clock import ManualClock
from worker.config import VoxV2Target
from worker.domain.timestamps import to_iso8601
from worker.simulators import vox_v2, vox_v3
from worker.simulators.vox_engine import VoxEngine

KEY = "vox-scenario-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
TARGET = VoxV2Target(
    account="acme", base_url="http://vox.test", api_key=SecretStr(KEY), page_size=2
)
# Monday 09:00-12:00 and 13:00-18:00 in Seoul, resumed automatically (the v2 request body).
SEOUL_DAY = {
    "timezone": "Asia/Seoul",
    "auto_resume": True,
    "windows": [
        {"days": ["Monday"], "start_min": 540, "end_min": 720},
        {"days": ["Monday"], "start_min": 780, "end_min": 1080},
    ],
}


class Organization:
    """One vox organization: its engine, the v2 app the worker polls, and a user's actions."""

    def __init__(self, clock: ManualClock) -> None:
        self.engine = VoxEngine(clock, seed=11)
        self.v2 = vox_v2.create_app(self.engine, api_key=KEY)
        self._v3 = vox_v3.create_app(self.engine, api_key=KEY)

    async def create(self, tasks: int, **extra: Any) -> str:
        body = {
            "name": f"lifecycle of {tasks}",
            "call_from": "01012345678",
            "agent_id": "550e8400-e29b-41d4-a716-446655440000",
            "tasks": [{"call_to": f"010{n:08d}"} for n in range(tasks)],
            **extra,
        }
        response = await self._call(self.v2, "/v2/campaigns", body)
        cid: str = response.json()["id"]
        return cid

    async def act(self, cid: str, action: str) -> None:
        await self._call(self._v3, f"/v3/campaigns/{cid}/{action}")

    async def _call(self, app: Any, path: str, body: Any = None) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vox.test") as http:
            response = await http.post(path, json=body, headers=AUTH)
        assert response.status_code == 200, response.text
        return response


async def _sync(h: Harness) -> None:
    summary = await h.sync()
    assert (summary.status, summary.rejected) == ("succeeded", 0), summary


async def whole_lifecycles(backend: Backend) -> None:
    clock = ManualClock(T0)
    org = Organization(clock)
    # A: scheduled, started, paused by a user, resumed, paused by the window, auto-resumed
    # and finished. 520 calls at 2.5 a minute need 208 minutes.
    main = await org.create(
        520,
        scheduled_at="2026-03-02T00:30:00Z",
        call_time_window=SEOUL_DAY,
        _sim={"seconds_per_call": 120},
    )
    canceled = await org.create(400, _sim={"seconds_per_call": 120})  # B: runs, then canceled
    failed = await org.create(10, _sim={"seconds_per_call": 120, "success_percent": 0})  # C
    async with harness(backend, clock, TARGET, org.v2) as h:
        await _sync(h)  # 00:00
        clock.set(T0 + 30 * MINUTE)  # A: pending; C dialed 00:01-00:05 and failed
        await _sync(h)
        clock.set(T0 + 45 * MINUTE)  # A: ongoing since 00:31
        await _sync(h)
        clock.set(T0 + HOUR)
        await org.act(main, "pause")
        await org.act(canceled, "cancel")
        await _sync(h)
        clock.set(T0 + 90 * MINUTE)
        await org.act(main, "resume")
        await _sync(h)
        clock.set(T0 + 3 * HOUR + 10 * MINUTE)  # the 12:00 KST close paused A at 03:00Z
        await _sync(h)
        clock.set(T0 + 4 * HOUR + 10 * MINUTE)  # 13:00 KST: auto-resumed at 04:00Z
        await _sync(h)
        # Dialed 29 + 90 minutes before the close; 89 more after 04:00Z end it at 05:29Z.
        clock.set(T0 + 5 * HOUR + 30 * MINUTE)
        await _sync(h)
        await h.assert_quiet_cycle()
        await _assert_lifecycles(h, main, canceled, failed)


async def _assert_lifecycles(h: Harness, main: str, canceled: str, failed: str) -> None:
    changed, paused, resumed = "campaign.status_changed", "campaign.paused", "campaign.resumed"
    progress, finished = "campaign.progress", "campaign.finished"
    assert await h.event_types(main) == [
        "campaign.discovered",
        changed,  # draft → pending
        changed,  # pending → ongoing
        progress,
        *(changed, paused, progress),  # user pause
        *(changed, resumed, progress),  # user resume
        *(changed, paused, progress),  # window closed
        *(changed, resumed, progress),  # window reopened
        *(changed, finished, progress),  # success
    ]
    assert await h.event_types(canceled) == [
        "campaign.discovered",
        changed,  # pending → ongoing
        progress,
        progress,
        *(changed, finished, progress),  # canceled
    ]
    assert await h.event_types(failed) == [
        "campaign.discovered",
        changed,  # pending → fail; the run in between was never seen
        finished,
        progress,
    ]
    pauses = await h.inspect.events(campaign_id=main, type=paused)
    assert [(e["occurred_at"], e["data"]["paused_by"], e["data"]["inferred"]) for e in pauses] == [
        (T0 + HOUR, "user", False),
        (T0 + 3 * HOUR, "system", False),
    ]
    resumes = await h.inspect.events(campaign_id=main, type=resumed)
    assert [(e["data"]["paused_by"], e["data"]["status_raw"]) for e in resumes] == [
        ("user", "ongoing"),
        ("system", "ongoing"),
    ]
    expected: dict[str, tuple[str, datetime]] = {
        main: ("completed", T0 + 5 * HOUR + 29 * MINUTE),
        canceled: ("canceled", T0 + HOUR),
        failed: ("failed", T0 + 5 * MINUTE),
    }
    for cid, (outcome, at) in expected.items():
        (event,) = await h.inspect.events(campaign_id=cid, type=finished)
        assert (event["data"]["outcome"], event["occurred_at"]) == (outcome, at)
        assert event["data"]["finished_at"] == to_iso8601(at)
    stored = await h.inspect.campaign(h.target, main)
    assert stored is not None
    assert {k: stored[k] for k in ("status", "status_raw", "paused_by", "finished_at")} == {
        "status": "completed",
        "status_raw": "success",
        "paused_by": None,
        "finished_at": T0 + 5 * HOUR + 29 * MINUTE,
    }
    assert (stored["version"], stored["created_at"], stored["scheduled_start_at"]) == (
        8,
        T0,
        T0 + 30 * MINUTE,
    )
    assert stored["raw"]["organization_id"] == "550e8400-e29b-41d4-a716-446655440001"
