"""Sarvam lifecycles. Sarvam has no paused_at, paused_by or finished_at: the events carry the
provider's ``updated_at`` when it moved, else the poll time; a campaign ends at its
``end_timestamp`` or when its contacts run out; a user pauses, resumes, cancels and edits."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from pydantic import SecretStr

from tests.conformance.backends import Backend
from tests.scenarios.harness import HOUR, MINUTE, T0, Harness, harness
from worker.clock import ManualClock
from worker.config import SarvamTarget
from worker.domain.timestamps import to_iso8601
from worker.simulators.sarvam import create_app
from worker.simulators.sarvam_engine import SarvamEngine

KEY, ORG, WORKSPACE = "sarvam-scenario-key-0123", "org-acme", "ws-main"
CAMPAIGNS = f"/v1/orgs/{ORG}/workspaces/{WORKSPACE}/campaigns"
TARGET = SarvamTarget(
    account="acme",
    base_url="http://sarvam.test/api/scheduling",
    api_key=SecretStr(KEY),
    org_id=ORG,
    workspace_id=WORKSPACE,
    page_size=2,
)


class User:
    """Someone using Sarvam's API beside the worker: creates, acts on and edits campaigns."""

    def __init__(self, api: httpx.AsyncClient) -> None:
        self.api = api

    async def create(self, name: str, start: datetime, end: datetime, contacts: int) -> str:
        body = {
            "name": name,
            "app_config": {"app_id": "collections-agent", "app_version": 2},
            "start_timestamp": to_iso8601(start),
            "end_timestamp": to_iso8601(end),
            # Equal times: all day; timezone and days take their defaults.
            "allowed_schedule": {"allowed_start_time": "00:00", "allowed_end_time": "00:00"},
            "_sim": {"contacts": contacts, "contacts_per_hour": 60},
        }
        response = await self.api.post(CAMPAIGNS, json=body)
        assert response.status_code == 200, response.text
        campaign_id: str = response.json()["campaign_id"]
        return campaign_id

    async def act(self, campaign_id: str, action: str) -> None:
        response = await self.api.put(f"{CAMPAIGNS}/{campaign_id}/status", json={"action": action})
        assert response.status_code == 200, response.text

    async def rename(self, campaign_id: str, name: str) -> None:
        response = await self.api.patch(f"{CAMPAIGNS}/{campaign_id}", json={"name": name})
        assert response.status_code == 200, response.text


async def _poll_at(h: Harness, clock: ManualClock, instant: datetime) -> None:
    clock.set(instant)
    summary = await h.sync()
    assert (summary.status, summary.rejected, summary.pages) == ("succeeded", 0, 2), summary


async def whole_lifecycle(backend: Backend) -> None:
    clock = ManualClock(T0)
    app = create_app(SarvamEngine(clock, seed=11), api_key=KEY, org_id=ORG, workspace_id=WORKSPACE)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(
            base_url=TARGET.base_url, transport=transport, headers={"X-API-Key": KEY}
        ) as api,
        harness(backend, clock, TARGET, app) as h,
    ):
        user = User(api)
        # 120 contacts at 60/h: two hours of dialing, split by a user pause.
        lifecycle = await user.create("Lifecycle", T0 + HOUR, T0 + 48 * HOUR, 120)
        cancelled = await user.create("Cancelled", T0, T0 + 48 * HOUR, 10**6)
        ends = await user.create("Ends", T0 + HOUR, T0 + 3 * HOUR, 10**6)
        edited = await user.create("Edited", T0 + 10 * HOUR, T0 + 48 * HOUR, 10**6)

        await _poll_at(h, clock, T0 + 30 * MINUTE)
        await _poll_at(h, clock, T0 + 90 * MINUTE)  # lifecycle and ends went active at T0+1h
        clock.set(T0 + 105 * MINUTE)
        await user.act(lifecycle, "pause")  # 45 contacts dialed
        await user.act(cancelled, "cancel")
        await user.rename(edited, "Edited twice")
        await _poll_at(h, clock, T0 + 110 * MINUTE)
        clock.set(T0 + 2 * HOUR)
        await user.act(lifecycle, "resume")  # back to scheduled; picked up a minute later
        await _poll_at(h, clock, T0 + 2 * HOUR + timedelta(seconds=30))
        await _poll_at(h, clock, T0 + 150 * MINUTE)  # active again since T0+2h01
        await _poll_at(h, clock, T0 + 4 * HOUR)  # 75 more: ended at T0+3h16; ends at T0+3h
        await h.assert_quiet_cycle()

        await _assert_lifecycle(h, lifecycle)
        assert await _timeline(h, cancelled) == [
            ("campaign.discovered", T0),
            ("campaign.status_changed", T0 + 105 * MINUTE),
            ("campaign.finished", T0 + 105 * MINUTE),
        ]
        assert await _timeline(h, ends) == [
            ("campaign.discovered", T0),
            ("campaign.status_changed", T0 + HOUR),
            ("campaign.status_changed", T0 + 3 * HOUR),
            ("campaign.finished", T0 + 3 * HOUR),  # the provider's end_timestamp
        ]
        edits = await h.inspect.events(campaign_id=edited)
        assert [(e["type"], e["occurred_at"]) for e in edits] == [
            ("campaign.discovered", T0),
            ("campaign.updated", T0 + 105 * MINUTE),
        ]
        assert edits[1]["data"]["changes"] == {
            "name": {"before": "Edited", "after": "Edited twice"}
        }
        assert await h.inspect.errors() == []


async def _timeline(h: Harness, campaign_id: str) -> list[tuple[str, datetime]]:
    return [(e["type"], e["occurred_at"]) for e in await h.inspect.events(campaign_id=campaign_id)]


async def _assert_lifecycle(h: Harness, lifecycle: str) -> None:
    resumed_at, reactivated_at = T0 + 2 * HOUR, T0 + 2 * HOUR + MINUTE
    finished_at = reactivated_at + 75 * MINUTE
    assert await _timeline(h, lifecycle) == [
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
    events = await h.inspect.events(campaign_id=lifecycle)
    statuses = [
        (e["data"]["before"]["status_raw"], e["data"]["after"]["status_raw"])
        for e in events
        if e["type"] == "campaign.status_changed"
    ]
    assert statuses == [
        ("scheduled", "active"),
        ("active", "paused"),
        ("paused", "scheduled"),
        ("scheduled", "active"),
        ("active", "ended"),
    ]
    paused = next(e for e in events if e["type"] == "campaign.paused")
    assert paused["data"] == {
        "paused_by": "unknown",
        "paused_at": None,
        "status_raw": "paused",
        "inferred": False,
    }
    finished = events[-1]["data"]
    assert (finished["outcome"], finished["status_raw"], finished["finished_at"]) == (
        "completed",
        "ended",
        None,
    )
    stored = await h.inspect.campaign(h.target, lifecycle)
    assert stored is not None
    assert {k: stored[k] for k in ("status", "status_raw", "finished_at")} == {
        "status": "completed",
        "status_raw": "ended",
        "finished_at": None,
    }
    assert (stored["provider_updated_at"], stored["scheduled_start_at"]) == (finished_at, T0 + HOUR)
    assert stored["call_window"]["timezone"] == "Asia/Kolkata"
