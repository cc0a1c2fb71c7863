"""The Sarvam simulator over HTTP: auth, paging, writes, errors and the clock-driven lifecycle."""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import T0
from worker.clock import ManualClock
from worker.domain.timestamps import to_iso8601
from worker.domain.windows import CallWindow, Weekday, WindowRange
from worker.simulators.faults import Faults
from worker.simulators.sarvam import create_app, demo_app
from worker.simulators.sarvam_engine import SarvamCampaign, SarvamEngine, SarvamOptions, all_day

KEY, ORG, WORKSPACE = "sim-key", "org-1", "ws-1"
CAMPAIGNS = f"/v1/orgs/{ORG}/workspaces/{WORKSPACE}/campaigns"
HOUR = timedelta(hours=1)
# 09:00-18:00 IST on weekdays; T0 (Monday 00:00 UTC) is 05:30 IST, so it opens at T0+3h30.
OFFICE = CallWindow(
    timezone="Asia/Kolkata",
    ranges=(
        WindowRange(
            days=(
                Weekday.MONDAY,
                Weekday.TUESDAY,
                Weekday.WEDNESDAY,
                Weekday.THURSDAY,
                Weekday.FRIDAY,
            ),
            start_min=9 * 60,
            end_min=18 * 60,
        ),
    ),
)
OPENS = T0 + timedelta(hours=3, minutes=30)
CLOSES = T0 + timedelta(hours=12, minutes=30)
METADATA_KEYS = [
    "name",
    "campaign_id",
    "status",
    "app_id",
    "created_by",
    "created_at",
    "updated_at",
    "description",
    "app_type",
    "app_version",
    "updated_by",
]
# The documented Create Campaign example, with times moved next to T0.
CREATE_EXAMPLE: dict[str, Any] = {
    "name": "Q1 Payment Reminders",
    "description": "Outbound reminder calls for Q1 overdue accounts",
    "app_config": {
        "app_id": "agent-abc123",
        "app_version": 1,
        "app_type": "agent",
        "attempts_per_second": 2,
        "connection_configs": [
            {"connection_id": "conn-xyz", "phone_numbers": ["+918041234567"], "weight": 1}
        ],
        "retry_config": {
            "max_retries": 3,
            "retry_interval_minutes": 30,
            "retry_on": {
                "busy": {"enabled": True},
                "no_answer": {"enabled": True},
                "short_duration": {"enabled": True, "threshold_seconds": 30},
            },
        },
        "webhook_config": {
            "url": "https://your-server.com/webhook",
            "metadata": {"team": "collections"},
        },
    },
    "start_timestamp": "2026-03-02T01:00:00Z",
    "end_timestamp": "2026-03-15T18:00:00Z",
    "allowed_schedule": {
        "timezone": "Asia/Kolkata",
        "allowed_start_time": "09:00",
        "allowed_end_time": "18:00",
        "allowed_days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    },
}


@dataclass
class Sim:
    client: httpx.AsyncClient
    engine: SarvamEngine
    clock: ManualClock
    faults: Faults

    async def status_of(self, campaign_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{CAMPAIGNS}/{campaign_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def act(self, campaign_id: str, action: str) -> httpx.Response:
        return await self.client.put(f"{CAMPAIGNS}/{campaign_id}/status", json={"action": action})


async def open_sim(clock: ManualClock, options: SarvamOptions | None = None) -> Sim:
    engine = SarvamEngine(clock, seed=3, options=options)
    faults = Faults()
    app = create_app(engine, api_key=KEY, org_id=ORG, workspace_id=WORKSPACE, faults=faults)
    client = httpx.AsyncClient(
        base_url="http://sarvam.test/api/scheduling",
        transport=httpx.ASGITransport(app=app),
        headers={"X-API-Key": KEY},
    )
    return Sim(client=client, engine=engine, clock=clock, faults=faults)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[Sim]:
    s = await open_sim(clock)
    async with s.client:
        yield s


def campaign(
    engine: SarvamEngine,
    *,
    start: datetime = T0 + HOUR,
    end: datetime = T0 + 240 * HOUR,
    window: CallWindow | None = None,
    contacts: int = 10**6,
    per_hour: int = 60,
    created: datetime = T0,
    name: str = "Campaign",
) -> SarvamCampaign:
    return engine.add(
        SarvamCampaign(
            campaign_id=engine.next_id(),
            name=name,
            created_at=created,
            start_timestamp=start,
            end_timestamp=end,
            allowed_schedule=window or all_day(),
            app_config={"app_id": "agent-1", "app_version": 3, "app_type": "agent"},
            contacts=contacts,
            contacts_per_hour=per_hour,
        )
    )


# --- auth and errors -------------------------------------------------------------------


async def test_a_bad_or_missing_key_gets_403_in_the_general_envelope(sim: Sim) -> None:
    for headers in ({"X-API-Key": "wrong"}, {"X-API-Key": ""}):
        response = await sim.client.get(CAMPAIGNS, headers=headers)
        assert response.status_code == 403
        assert response.json() == {
            "error": {"message": "Invalid API key provided", "code": "invalid_api_key_error"}
        }
    del sim.client.headers["X-API-Key"]
    assert (await sim.client.get(CAMPAIGNS)).status_code == 403


async def test_another_workspace_is_not_found(sim: Sim) -> None:
    response = await sim.client.get(f"/v1/orgs/{ORG}/workspaces/other/campaigns")
    assert response.status_code == 404
    assert response.json() == {"detail": "Workspace not found"}


async def test_bare_and_prefixed_paths_serve_the_same(sim: Sim) -> None:
    campaign(sim.engine)
    prefixed = await sim.client.get(CAMPAIGNS)
    bare = await sim.client.get(f"http://sarvam.test{CAMPAIGNS}")
    assert prefixed.status_code == bare.status_code == 200
    assert prefixed.json()["items"] == bare.json()["items"]


async def test_unknown_campaign_is_404_with_fastapi_detail(sim: Sim) -> None:
    for response in (
        await sim.client.get(f"{CAMPAIGNS}/camp-00000000"),
        await sim.act("camp-00000000", "pause"),
        await sim.client.patch(f"{CAMPAIGNS}/camp-00000000", json={"name": "x"}),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "Campaign not found"}


async def test_injected_faults_use_the_general_envelope(sim: Sim) -> None:
    sim.faults.rate_limited, sim.faults.retry_after = 1, 4
    limited = await sim.client.get(CAMPAIGNS)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "4")
    assert limited.json()["error"]["code"] == "rate_limit_exceeded_error"
    sim.faults.server_errors = 1
    failed = await sim.client.get(CAMPAIGNS)
    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "internal_server_error"


# --- list and paging -------------------------------------------------------------------


async def test_paging_defaults_envelope_and_page_uris(sim: Sim) -> None:
    ids = [campaign(sim.engine, created=T0 - i * HOUR).campaign_id for i in range(25)]
    first = (await sim.client.get(CAMPAIGNS)).json()
    assert [i["campaign_id"] for i in first["items"]] == ids[:10]  # created_at desc
    assert {k: first[k] for k in ("total", "limit", "offset", "prev_page_uri")} == {
        "total": 25,
        "limit": 10,
        "offset": 0,
        "prev_page_uri": None,
    }
    base = f"/api/scheduling{CAMPAIGNS}"
    assert first["next_page_uri"] == f"{base}?offset=10&limit=10"
    second = (await sim.client.get(f"http://sarvam.test{first['next_page_uri']}")).json()
    assert [i["campaign_id"] for i in second["items"]] == ids[10:20]
    assert second["prev_page_uri"] == f"{base}?offset=0&limit=10"
    last = (await sim.client.get(CAMPAIGNS, params={"offset": 20})).json()
    assert [i["campaign_id"] for i in last["items"]] == ids[20:]
    assert (last["next_page_uri"], last["prev_page_uri"]) == (None, f"{base}?offset=10&limit=10")
    beyond = (await sim.client.get(CAMPAIGNS, params={"offset": 30})).json()
    assert (beyond["items"], beyond["total"], beyond["next_page_uri"]) == ([], 25, None)


async def test_sort_filter_and_search_are_kept_in_page_uris(sim: Sim) -> None:
    for i, name in enumerate(["Alpha reminders", "beta REMINDERS", "Gamma survey"]):
        campaign(sim.engine, created=T0 - (3 - i) * HOUR, name=name, start=T0 + 10 * HOUR)
    asc = (await sim.client.get(CAMPAIGNS, params={"sort_order": "asc"})).json()
    assert [i["name"] for i in asc["items"]] == [
        "Alpha reminders",
        "beta REMINDERS",
        "Gamma survey",
    ]
    by_name = (await sim.client.get(CAMPAIGNS, params={"sort_by": "name"})).json()
    assert [i["name"] for i in by_name["items"]] == [
        "beta REMINDERS",
        "Gamma survey",
        "Alpha reminders",
    ]
    found = (
        await sim.client.get(
            CAMPAIGNS,
            params={"search": "reminders", "campaign_status": "scheduled", "limit": 1},
        )
    ).json()
    assert [i["name"] for i in found["items"]] == ["beta REMINDERS"]
    assert found["total"] == 2
    assert found["next_page_uri"].endswith(
        "?search=reminders&campaign_status=scheduled&offset=1&limit=1"
    )
    none_active = (await sim.client.get(CAMPAIGNS, params={"campaign_status": "active"})).json()
    assert (none_active["items"], none_active["total"]) == ([], 0)


async def test_fault_page_size_serves_fewer_than_the_limit(sim: Sim) -> None:
    for i in range(5):
        campaign(sim.engine, created=T0 - i * HOUR)
    sim.faults.page_size = 2
    body = (await sim.client.get(CAMPAIGNS, params={"limit": 100})).json()
    assert (len(body["items"]), body["limit"], body["total"]) == (2, 100, 5)
    assert body["next_page_uri"].endswith("offset=2&limit=100")


@pytest.mark.parametrize(
    ("params", "loc", "kind"),
    [
        ({"limit": 0}, ["query", "limit"], "value_error"),
        ({"limit": 101}, ["query", "limit"], "value_error"),
        ({"limit": "ten"}, ["query", "limit"], "int_parsing"),
        ({"offset": -1}, ["query", "offset"], "value_error"),
        ({"sort_order": "up"}, ["query", "sort_order"], "enum"),
        ({"sort_by": "colour"}, ["query", "sort_by"], "enum"),
        ({"campaign_status": "canceled"}, ["query", "campaign_status"], "enum"),
    ],
)
async def test_bad_list_parameters_are_422_fastapi_style(
    sim: Sim, params: dict[str, Any], loc: list[str], kind: str
) -> None:
    response = await sim.client.get(CAMPAIGNS, params=params)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert (problem["loc"], problem["type"]) == (loc, kind)
    assert problem["msg"]


# --- create, detail, patch -------------------------------------------------------------


async def test_create_answers_metadata_in_scheduled(sim: Sim) -> None:
    response = await sim.client.post(CAMPAIGNS, json=CREATE_EXAMPLE)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == METADATA_KEYS
    assert re.fullmatch(r"camp-[0-9a-f]{8}", body["campaign_id"])
    assert {k: v for k, v in body.items() if k != "campaign_id"} == {
        "name": "Q1 Payment Reminders",
        "status": "scheduled",
        "app_id": "agent-abc123",
        "created_by": "user@company.com",
        "created_at": "2026-03-02T00:00:00Z",
        "updated_at": "2026-03-02T00:00:00Z",
        "description": "Outbound reminder calls for Q1 overdue accounts",
        "app_type": "agent",
        "app_version": 1,
        "updated_by": None,
    }


async def test_detail_adds_config_times_and_schedule_in_documented_order(sim: Sim) -> None:
    created = (await sim.client.post(CAMPAIGNS, json=CREATE_EXAMPLE)).json()
    detail = await sim.status_of(created["campaign_id"])
    assert list(detail) == [
        *METADATA_KEYS[:7],
        "app_config",
        "start_timestamp",
        "end_timestamp",
        "allowed_schedule",
        *METADATA_KEYS[7:],
    ]
    assert detail["app_config"] == CREATE_EXAMPLE["app_config"]
    assert (detail["start_timestamp"], detail["end_timestamp"]) == (
        "2026-03-02T01:00:00Z",
        "2026-03-15T18:00:00Z",
    )
    assert detail["allowed_schedule"] == {
        "allowed_start_time": "09:00",
        "allowed_end_time": "18:00",
        "allowed_days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
        "timezone": "Asia/Kolkata",
    }


async def test_create_defaults_timezone_days_and_app_type(sim: Sim) -> None:
    body = copy.deepcopy(CREATE_EXAMPLE)
    body["allowed_schedule"] = {"allowed_start_time": "08:00", "allowed_end_time": "20:00"}
    del body["app_config"]["app_type"]
    created = (await sim.client.post(CAMPAIGNS, json=body)).json()
    detail = await sim.status_of(created["campaign_id"])
    assert detail["allowed_schedule"]["timezone"] == "Asia/Kolkata"
    assert len(detail["allowed_schedule"]["allowed_days"]) == 7
    assert detail["app_type"] == detail["app_config"]["app_type"] == "agent"


@pytest.mark.parametrize(
    ("change", "loc", "kind"),
    [
        ({"name": None}, ["body", "name"], "missing"),
        ({"name": "Q1 reminders!"}, ["body", "name"], "value_error"),
        ({"name": "x" * 51}, ["body", "name"], "value_error"),
        ({"description": "d" * 151}, ["body", "description"], "value_error"),
        ({"app_config": None}, ["body", "app_config"], "missing"),
        ({"app_config": {"app_version": 1}}, ["body", "app_config", "app_id"], "missing"),
        ({"start_timestamp": "2026-03-02T01:00:00"}, ["body", "start_timestamp"], "value_error"),
        ({"end_timestamp": "2026-03-01T00:00:00Z"}, ["body", "end_timestamp"], "value_error"),
        (
            {"allowed_schedule": {"allowed_start_time": "9am", "allowed_end_time": "18:00"}},
            ["body", "allowed_schedule", "allowed_start_time"],
            "value_error",
        ),
        (
            {"allowed_schedule": {**CREATE_EXAMPLE["allowed_schedule"], "allowed_days": ["Mon"]}},
            ["body", "allowed_schedule", "allowed_days"],
            "value_error",
        ),
        (
            {"allowed_schedule": {**CREATE_EXAMPLE["allowed_schedule"], "allowed_days": [{}]}},
            ["body", "allowed_schedule", "allowed_days"],
            "value_error",
        ),
        (
            {"allowed_schedule": {**CREATE_EXAMPLE["allowed_schedule"], "timezone": "IST"}},
            ["body", "allowed_schedule", "timezone"],
            "value_error",
        ),
        ({"_sim": {"contacts": "many"}}, ["body", "_sim", "contacts"], "value_error"),
    ],
)
async def test_create_validation_errors_name_the_field(
    sim: Sim, change: dict[str, Any], loc: list[str], kind: str
) -> None:
    response = await sim.client.post(CAMPAIGNS, json={**CREATE_EXAMPLE, **change})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert (problem["loc"], problem["type"]) == (loc, kind)
    assert sim.engine.campaigns() == []


async def test_sim_contacts_set_when_a_created_campaign_runs_out(sim: Sim) -> None:
    body = {**CREATE_EXAMPLE, "_sim": {"contacts": 30, "contacts_per_hour": 120}}
    body["allowed_schedule"] = {"allowed_start_time": "00:00", "allowed_end_time": "00:00"}
    cid = (await sim.client.post(CAMPAIGNS, json=body)).json()["campaign_id"]
    sim.clock.set(T0 + 2 * HOUR)
    detail = await sim.status_of(cid)
    # Starts at 01:00 (start_timestamp), dials 30 contacts in 15 minutes.
    assert (detail["status"], detail["updated_at"]) == ("ended", "2026-03-02T01:15:00Z")


async def test_a_body_that_is_not_a_json_object_is_422(sim: Sim) -> None:
    broken = await sim.client.post(
        CAMPAIGNS, content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.json()["detail"][0]["type"] == "json_invalid"
    listed = await sim.client.post(CAMPAIGNS, json=[CREATE_EXAMPLE])
    assert (listed.status_code, listed.json()["detail"][0]["loc"]) == (422, ["body"])


async def test_patch_edits_a_scheduled_campaign_and_moves_updated_at(sim: Sim) -> None:
    cid = (await sim.client.post(CAMPAIGNS, json=CREATE_EXAMPLE)).json()["campaign_id"]
    sim.clock.advance(timedelta(minutes=5))
    schedule = {"allowed_start_time": "10:00", "allowed_end_time": "12:00", "timezone": "UTC"}
    response = await sim.client.patch(
        f"{CAMPAIGNS}/{cid}",
        json={"name": "Q1 reminders v2", "description": None, "allowed_schedule": schedule},
    )
    assert response.status_code == 200
    body = response.json()
    assert list(body) == METADATA_KEYS
    assert (body["name"], body["description"]) == (
        "Q1 reminders v2",
        "Outbound reminder calls for Q1 overdue accounts",  # null leaves it unchanged
    )
    assert (body["updated_at"], body["updated_by"]) == ("2026-03-02T00:05:00Z", "user@company.com")
    assert (await sim.status_of(cid))["allowed_schedule"]["allowed_start_time"] == "10:00"

    sim.clock.advance(timedelta(minutes=5))
    same = await sim.client.patch(f"{CAMPAIGNS}/{cid}", json={"name": "Q1 reminders v2"})
    assert same.json()["updated_at"] == "2026-03-02T00:05:00Z"  # nothing changed


async def test_patch_is_refused_outside_scheduled_and_paused(sim: Sim) -> None:
    c = campaign(sim.engine, start=T0)
    sim.clock.advance(timedelta(seconds=1))
    response = await sim.client.patch(f"{CAMPAIGNS}/{c.campaign_id}", json={"name": "late"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Updates are only allowed in paused or scheduled status, not active"
    }
    assert (await sim.act(c.campaign_id, "pause")).status_code == 200
    ok = await sim.client.patch(f"{CAMPAIGNS}/{c.campaign_id}", json={"name": "late"})
    assert ok.json()["name"] == "late"


@pytest.mark.parametrize(
    "body",
    [{"end_timestamp": "2026-03-01T23:00:00Z"}, {"name": "no/slashes"}, {"description": "d" * 151}],
)
async def test_patch_validation_is_422(sim: Sim, body: dict[str, Any]) -> None:
    c = campaign(sim.engine, start=T0 + 5 * HOUR)
    response = await sim.client.patch(f"{CAMPAIGNS}/{c.campaign_id}", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", next(iter(body))]


# --- the lifecycle on the clock --------------------------------------------------------


async def test_starts_exactly_at_start_timestamp_inside_the_window(sim: Sim) -> None:
    c = campaign(sim.engine, start=T0 + HOUR)
    sim.clock.set(T0 + HOUR - timedelta(seconds=1))
    assert (await sim.status_of(c.campaign_id))["status"] == "scheduled"
    sim.clock.set(T0 + HOUR)
    detail = await sim.status_of(c.campaign_id)
    assert (detail["status"], detail["updated_at"]) == ("active", "2026-03-02T01:00:00Z")
    assert detail["updated_by"] is None  # a system transition
    assert c.transitions == [(T0 + HOUR, "active")]


async def test_a_start_outside_the_window_waits_for_it_to_open(sim: Sim) -> None:
    c = campaign(sim.engine, start=T0 + HOUR, window=OFFICE)
    sim.clock.set(OPENS - timedelta(seconds=1))
    assert (await sim.status_of(c.campaign_id))["status"] == "scheduled"
    sim.clock.set(OPENS + timedelta(hours=2))  # observed late: stamped when it happened
    detail = await sim.status_of(c.campaign_id)
    assert (detail["status"], detail["updated_at"]) == ("active", to_iso8601(OPENS))


async def test_ends_the_instant_its_contacts_run_out_dialing_only_inside_the_window(
    sim: Sim,
) -> None:
    # 600 contacts at 60/h: 9 hours on Monday (09:00-18:00 IST), 1 more on Tuesday.
    c = campaign(sim.engine, start=T0, window=OFFICE, contacts=600, per_hour=60)
    sim.clock.set(CLOSES + HOUR)
    assert (await sim.status_of(c.campaign_id))["status"] == "active"  # stays active overnight
    assert c.dialed == 540
    tuesday_end = OPENS + timedelta(days=1, hours=1)
    sim.clock.set(tuesday_end - timedelta(seconds=1))
    assert (await sim.status_of(c.campaign_id))["status"] == "active"
    sim.clock.set(tuesday_end + timedelta(minutes=10))
    detail = await sim.status_of(c.campaign_id)
    assert (detail["status"], detail["updated_at"]) == ("ended", to_iso8601(tuesday_end))
    assert c.transitions == [(OPENS, "active"), (tuesday_end, "ended")]


async def test_window_close_can_flip_active_back_to_scheduled(clock: ManualClock) -> None:
    s = await open_sim(clock, SarvamOptions(window_closes_to_scheduled=True))
    async with s.client:
        c = campaign(s.engine, start=T0, window=OFFICE, contacts=600, per_hour=60)
        clock.set(T0 + timedelta(days=2))
        assert (await s.status_of(c.campaign_id))["status"] == "ended"
    tuesday = timedelta(days=1)
    assert c.transitions == [
        (OPENS, "active"),
        (CLOSES, "scheduled"),
        (OPENS + tuesday, "active"),
        (OPENS + tuesday + HOUR, "ended"),
    ]


async def test_end_timestamp_ends_scheduled_active_and_paused_campaigns(sim: Sim) -> None:
    end = T0 + 5 * HOUR
    waiting = campaign(sim.engine, start=T0 + 6 * HOUR, end=end)
    running = campaign(sim.engine, start=T0, end=end)
    paused = campaign(sim.engine, start=T0, end=end)
    sim.clock.set(T0 + HOUR)
    assert (await sim.act(paused.campaign_id, "pause")).json()["status"] == "paused"
    sim.clock.set(end + HOUR)
    for c in (waiting, running, paused):
        detail = await sim.status_of(c.campaign_id)
        assert (detail["status"], detail["updated_at"]) == ("ended", to_iso8601(end))


async def test_system_transitions_can_leave_updated_at_alone(clock: ManualClock) -> None:
    s = await open_sim(clock, SarvamOptions(stamp_system_transitions=False))
    async with s.client:
        c = campaign(s.engine, start=T0 + HOUR)
        clock.set(T0 + 2 * HOUR)
        detail = await s.status_of(c.campaign_id)
    assert (detail["status"], detail["updated_at"]) == ("active", to_iso8601(T0))


# --- status actions --------------------------------------------------------------------


async def test_pause_then_resume_lands_in_scheduled_then_activates(sim: Sim) -> None:
    c = campaign(sim.engine, start=T0)
    sim.clock.set(T0 + HOUR)
    paused = (await sim.act(c.campaign_id, "pause")).json()
    assert list(paused) == METADATA_KEYS
    assert (paused["status"], paused["updated_at"], paused["updated_by"]) == (
        "paused",
        "2026-03-02T01:00:00Z",
        "user@company.com",
    )
    sim.clock.set(T0 + 2 * HOUR)
    resumed = (await sim.act(c.campaign_id, "resume")).json()
    assert (resumed["status"], resumed["updated_at"]) == ("scheduled", "2026-03-02T02:00:00Z")
    sim.clock.advance(timedelta(seconds=59))
    assert (await sim.status_of(c.campaign_id))["status"] == "scheduled"
    sim.clock.advance(timedelta(minutes=5))
    detail = await sim.status_of(c.campaign_id)
    assert (detail["status"], detail["updated_at"]) == ("active", "2026-03-02T02:01:00Z")


async def test_resume_can_land_in_active_as_the_ui_guide_says(clock: ManualClock) -> None:
    s = await open_sim(clock, SarvamOptions(resume_to="active"))
    async with s.client:
        c = campaign(s.engine, start=T0)
        clock.set(T0 + HOUR)
        await s.act(c.campaign_id, "pause")
        resumed = (await s.act(c.campaign_id, "resume")).json()
    assert resumed["status"] == "active"


async def test_cancel_is_terminal_and_illegal_actions_are_409(sim: Sim) -> None:
    c = campaign(sim.engine, start=T0 + HOUR)
    illegal = await sim.act(c.campaign_id, "resume")
    assert illegal.status_code == 409
    assert illegal.json() == {
        "detail": "Cannot resume a campaign in status 'scheduled'; allowed from: paused"
    }
    cancelled = (await sim.act(c.campaign_id, "cancel")).json()
    assert cancelled["status"] == "cancelled"
    for action in ("pause", "resume", "cancel"):
        assert (await sim.act(c.campaign_id, action)).status_code == 409
    sim.clock.set(T0 + 2 * HOUR)
    assert (await sim.status_of(c.campaign_id))["status"] == "cancelled"
    patch = await sim.client.patch(f"{CAMPAIGNS}/{c.campaign_id}", json={"name": "again"})
    assert patch.status_code == 409


@pytest.mark.parametrize("body", [{"action": "stop"}, {"action": None}, {}])
async def test_unknown_actions_are_422(sim: Sim, body: dict[str, Any]) -> None:
    c = campaign(sim.engine)
    response = await sim.client.put(f"{CAMPAIGNS}/{c.campaign_id}/status", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "action"]


async def test_quota_of_ten_scheduled_or_active_on_create_and_resume(sim: Sim) -> None:
    ids = []
    for _ in range(10):
        response = await sim.client.post(CAMPAIGNS, json=CREATE_EXAMPLE)
        assert response.status_code == 200
        ids.append(response.json()["campaign_id"])
    refused = await sim.client.post(CAMPAIGNS, json=CREATE_EXAMPLE)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["type"] == "quota_exceeded"
    await sim.act(ids[0], "pause")  # paused campaigns do not count
    assert (await sim.client.post(CAMPAIGNS, json=CREATE_EXAMPLE)).status_code == 200
    blocked = await sim.act(ids[0], "resume")
    assert (blocked.status_code, blocked.json()["detail"][0]["type"]) == (422, "quota_exceeded")
    assert (await sim.status_of(ids[0]))["status"] == "paused"


# --- malformed records and the demo ----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("bad_time", lambda r: r["created_at"] == "02/03/2026 00:00"),
        ("unknown_status", lambda r: r["status"] == "archived"),
        ("missing_id", lambda r: "campaign_id" not in r),
        ("wrong_type", lambda r: r["app_version"] == "two"),
    ],
)
async def test_breakers_corrupt_list_items_and_details(sim: Sim, kind: str, check: Any) -> None:
    broken, healthy = campaign(sim.engine), campaign(sim.engine)
    sim.faults.malformed = {broken.campaign_id: kind}
    items = (await sim.client.get(CAMPAIGNS)).json()["items"]
    by_name = {i.get("campaign_id", "?"): i for i in items}
    assert check(by_name.get(broken.campaign_id, by_name.get("?")))
    assert not check(by_name[healthy.campaign_id])
    assert check(await sim.status_of(broken.campaign_id))


async def test_demo_fleet_is_deterministic_and_busy_in_its_first_six_hours() -> None:
    clocks = [ManualClock(T0 + timedelta(seconds=17)), ManualClock(T0 + timedelta(seconds=17))]
    (_, one), (_, two) = demo_app(clocks[0], seed=5), demo_app(clocks[1], seed=5)
    _, other = demo_app(ManualClock(T0), seed=6)
    assert 4 <= len(one.campaigns()) <= 8
    assert [c.campaign_id for c in one.campaigns()] == [c.campaign_id for c in two.campaigns()]
    assert {c.campaign_id for c in one.campaigns()}.isdisjoint(
        c.campaign_id for c in other.campaigns()
    )
    start = [(c.campaign_id, c.status) for c in one.campaigns()]
    for _ in range(36):
        clocks[0].advance(timedelta(minutes=10))
        one.advance()
    during = [
        (status, at - T0)
        for c in one.campaigns()
        for at, status in c.transitions
        if T0 < at <= T0 + 6 * HOUR
    ]
    kinds = [status for status, _ in during]
    for status in ("active", "paused", "scheduled", "ended", "cancelled"):
        assert status in kinds, (status, during)
    assert len(during) >= 8
    assert start != [(c.campaign_id, c.status) for c in one.campaigns()]
    assert all(at.second == 0 for c in one.campaigns() for at, _ in c.transitions)
