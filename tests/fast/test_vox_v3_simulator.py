"""The vox v3 simulator over HTTP: documented shapes, errors and a clock-driven state machine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import T0
from worker.clock import ManualClock
from worker.domain.timestamps import to_unix_ms
from worker.domain.windows import CallWindow, Weekday, WindowRange
from worker.simulators.faults import Faults
from worker.simulators.vox_engine import VoxCampaign, VoxEngine
from worker.simulators.vox_v3 import create_app

KEY = "sim-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
UTC_MORNING = CallWindow(
    timezone="UTC",
    ranges=(
        WindowRange(days=(Weekday.MONDAY,), start_min=60, end_min=120),
    ),  # 01:00-02:00 UTC Monday
    auto_resume=True,
)


@pytest.fixture
def vox(clock: ManualClock) -> VoxEngine:
    return VoxEngine(clock, seed=3)


@pytest.fixture
async def api(vox: VoxEngine) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(vox, api_key=KEY, faults=Faults()))
    async with httpx.AsyncClient(
        base_url="http://vox.test", transport=transport, headers=AUTH
    ) as client:
        yield client


def add(vox: VoxEngine, cid: str, **fields: Any) -> VoxCampaign:
    values: dict[str, Any] = {
        "id": cid,
        "name": f"c{cid}",
        "created_at": T0 - timedelta(hours=1),
        "scheduled_at": T0,
        "total_calls": 100,
        "call_window": UTC_MORNING,
    }
    return vox.add(VoxCampaign(**(values | fields)))


async def test_bad_key_gets_401_with_the_error_envelope(api: httpx.AsyncClient) -> None:
    response = await api.get("/v3/campaigns", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "UNAUTHORIZED", "message": "Invalid or missing API key"}
    }


async def test_unknown_query_parameter_lists_the_allowed_ones(api: httpx.AsyncClient) -> None:
    response = await api.get("/v3/campaigns", params={"campaign_id": "1"})
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "VALIDATION_ERROR"
    assert body["details"] == {"allowed_query_parameters": ["limit", "cursor", "sort_order"]}


@pytest.mark.parametrize("limit", ["0", "101", "x"])
async def test_limit_is_1_to_100(api: httpx.AsyncClient, limit: str) -> None:
    assert (await api.get("/v3/campaigns", params={"limit": limit})).status_code == 400


async def test_cursor_paging_newest_first(api: httpx.AsyncClient, vox: VoxEngine) -> None:
    for index in range(5):
        add(vox, str(200 + index), created_at=T0 - timedelta(hours=5 - index))
    first = (await api.get("/v3/campaigns", params={"limit": 2})).json()
    assert [c["id"] for c in first["items"]] == ["204", "203"]
    assert first["total_count"] == 5
    second = (
        await api.get("/v3/campaigns", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    third = (
        await api.get("/v3/campaigns", params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()
    assert [c["id"] for c in second["items"] + third["items"]] == ["202", "201", "200"]
    assert third["next_cursor"] is None
    assert (await api.get("/v3/campaigns", params={"cursor": "bogus"})).status_code == 400


async def test_campaign_object_has_exactly_the_documented_fields(
    api: httpx.AsyncClient, vox: VoxEngine
) -> None:
    add(vox, "300")
    body = (await api.get("/v3/campaigns/300")).json()
    assert set(body) == {
        "id", "name", "status", "agent", "from_number", "total_calls", "completed_calls",
        "failed_calls", "concurrency", "active_concurrency", "created_at", "presentation_number",
        "scheduled_at", "finished_at", "paused_at", "paused_by", "call_time_window",
    }  # fmt: skip
    assert set(body["agent"]) == {"agent_id", "agent_version"}
    assert body["created_at"] == to_unix_ms(T0 - timedelta(hours=1))
    assert (await api.get("/v3/campaigns/999")).status_code == 404


async def test_lifecycle_transitions_happen_at_exact_instants(
    api: httpx.AsyncClient, vox: VoxEngine, clock: ManualClock
) -> None:
    # 1 line, 60 s per call, 100 calls: needs 100 minutes of open window; it has 60 per Monday.
    add(vox, "400", concurrency=1, seconds_per_call=60, scheduled_at=T0 + timedelta(seconds=10))

    async def state() -> dict[str, Any]:
        return dict((await api.get("/v3/campaigns/400")).json())

    assert (await state())["status"] == "draft"
    clock.advance(timedelta(seconds=30))  # scheduled_at passed, dispatcher not started yet
    assert (await state())["status"] == "pending"
    clock.set(T0 + timedelta(hours=1, minutes=30))  # 01:30, inside the window
    now = await state()
    assert now["status"] == "ongoing"
    assert now["active_concurrency"] == 1
    assert now["completed_calls"] + now["failed_calls"] == 30  # dialing since 01:00
    clock.set(T0 + timedelta(hours=3))
    paused = await state()
    assert (paused["status"], paused["paused_by"]) == ("paused", "system")
    assert paused["paused_at"] == to_unix_ms(T0 + timedelta(hours=2))  # the window closed at 02:00
    assert paused["active_concurrency"] == 0
    assert paused["completed_calls"] + paused["failed_calls"] == 60
    clock.set(T0 + timedelta(days=7, hours=1, minutes=10))  # next Monday 01:10
    resumed = await state()
    assert (resumed["status"], resumed["paused_at"], resumed["paused_by"]) == (
        "ongoing",
        None,
        None,
    )
    clock.set(T0 + timedelta(days=7, hours=3))
    done = await state()
    assert done["status"] == "success"
    assert done["finished_at"] == to_unix_ms(T0 + timedelta(days=7, hours=1, minutes=40))
    assert done["completed_calls"] + done["failed_calls"] == 100


async def test_user_pause_resume_and_cancel(
    api: httpx.AsyncClient, vox: VoxEngine, clock: ManualClock
) -> None:
    add(vox, "500", call_window=None)
    clock.advance(timedelta(minutes=5))
    paused = (await api.post("/v3/campaigns/500/pause")).json()
    assert (paused["status"], paused["paused_by"], paused["paused_at"]) == (
        "paused",
        "user",
        to_unix_ms(clock.now()),
    )
    assert (await api.post("/v3/campaigns/500/pause")).status_code == 409
    clock.advance(timedelta(days=30))
    assert (await api.get("/v3/campaigns/500")).json()["status"] == "paused"  # a user pause stays
    assert (await api.post("/v3/campaigns/500/resume")).json()["status"] == "ongoing"
    canceled = (await api.post("/v3/campaigns/500/cancel")).json()
    assert (canceled["status"], canceled["finished_at"]) == ("canceled", to_unix_ms(clock.now()))
    conflict = await api.post("/v3/campaigns/500/resume")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "INVALID_STATE"


async def test_system_pause_without_auto_resume_waits_for_a_user(
    api: httpx.AsyncClient, vox: VoxEngine, clock: ManualClock
) -> None:
    manual = CallWindow(timezone="UTC", ranges=UTC_MORNING.ranges, auto_resume=False)
    add(vox, "600", call_window=manual, total_calls=10_000)
    clock.set(T0 + timedelta(days=7, hours=1, minutes=30))  # next Monday, window open again
    assert (await api.get("/v3/campaigns/600")).json()["status"] == "paused"


async def test_no_successful_call_means_fail(
    api: httpx.AsyncClient, vox: VoxEngine, clock: ManualClock
) -> None:
    add(vox, "700", call_window=None, total_calls=5, success_percent=0)
    clock.advance(timedelta(hours=1))
    body = (await api.get("/v3/campaigns/700")).json()
    assert (body["status"], body["completed_calls"], body["failed_calls"]) == ("fail", 0, 5)


async def test_patch_rules(api: httpx.AsyncClient, vox: VoxEngine, clock: ManualClock) -> None:
    add(vox, "800", call_window=None)
    assert (await api.patch("/v3/campaigns/800", json={})).status_code == 400
    assert (await api.patch("/v3/campaigns/800", json={"name": "  "})).status_code == 400
    assert (await api.patch("/v3/campaigns/800", json={"name": None})).status_code == 400
    assert (
        await api.patch("/v3/campaigns/800", json={"call_time_window": None})
    ).status_code == 400
    window = {
        "windows": [{"start_min": 0, "end_min": 1440, "days": ["Monday"]}],
        "timezone": "UTC",
        "auto_resume": False,
    }
    body = (
        await api.patch("/v3/campaigns/800", json={"name": "renamed", "call_time_window": window})
    ).json()
    assert (body["name"], body["call_time_window"]) == ("renamed", window)
    clock.advance(timedelta(hours=1))  # now ongoing: no more edits
    refused = await api.patch("/v3/campaigns/800", json={"name": "late"})
    assert refused.status_code == 409


async def test_create_validates_and_defaults(api: httpx.AsyncClient, clock: ManualClock) -> None:
    body = {
        "name": "고객 설문 캠페인",
        "from_number": "01012345678",
        "agent": {"agent_id": "550e8400-e29b-41d4-a716-446655440000", "agent_version": "v2"},
        "tasks": [{"call_to": "01023456789", "dynamic_variables": {}, "metadata": {}}],
        "scheduled_at": to_unix_ms(T0 + timedelta(hours=1)) // 1000,  # 10-digit seconds accepted
    }
    created = (await api.post("/v3/campaigns", json=body)).json()
    assert (created["status"], created["concurrency"], created["total_calls"]) == ("draft", 5, 1)
    assert created["scheduled_at"] == to_unix_ms(T0 + timedelta(hours=1))
    assert created["call_time_window"]["windows"][0] == {
        "days": list(Weekday),
        "start_min": 480,
        "end_min": 1200,
    }
    bad = await api.post("/v3/campaigns", json={**body, "tasks": []})
    assert bad.status_code == 400
    assert bad.json()["error"]["details"] == {"field": "tasks"}
    bad_version = await api.post(
        "/v3/campaigns", json={**body, "agent": {"agent_id": "a", "agent_version": "latest"}}
    )
    assert bad_version.status_code == 400


async def test_admin_routes_change_faults_and_the_manual_clock(
    api: httpx.AsyncClient, clock: ManualClock
) -> None:
    assert (
        await api.put("/_sim/faults", json={"rate_limited": 1, "retry_after": 3})
    ).status_code == 200
    limited = await api.get("/v3/campaigns")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert (await api.get("/v3/campaigns")).status_code == 200
    assert (await api.put("/_sim/faults", json={"bogus": 1})).status_code == 400
    moved = (await api.post("/_sim/clock", json={"advance_seconds": 90})).json()
    assert moved["now"] == "2026-03-02T00:01:30Z"
    assert clock.now() == T0 + timedelta(seconds=90)
