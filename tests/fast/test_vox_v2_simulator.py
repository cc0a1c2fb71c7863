"""The vox v2 simulator over HTTP: auth, the body-filtered list and its paging, the
state machine at exact instants, create, malformed records, faults and the demo fleet."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.conftest import T0
from tests.kits.vox_v2 import SEOUL_DAY
from worker.clock import ManualClock
from worker.config import VoxV2Target
from worker.domain.timestamps import to_iso8601, to_unix_ms
from worker.domain.windows import CallWindow, Weekday, WindowRange
from worker.providers.vox_v2 import VoxV2Source
from worker.simulators import vox_v3
from worker.simulators.faults import Faults
from worker.simulators.vox_engine import VoxCampaign, VoxEngine
from worker.simulators.vox_v2 import DEMO_API_KEY, DEMO_ORGANIZATION_ID, create_app, demo_app

KEY = "vox-v2-sim-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
FIXTURES = Path(__file__).parent.parent / "fixtures" / "vox_v2"
SCHEMA_FIELDS = set(json.loads((FIXTURES / "schema_campaign.json").read_text()))
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


@pytest.fixture
def vox(clock: ManualClock) -> VoxEngine:
    return VoxEngine(clock, seed=3)


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
async def client(vox: VoxEngine, faults: Faults) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(vox, api_key=KEY, faults=faults)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://vox.test") as http:
        yield http


def add(vox: VoxEngine, cid: str, *, created: timedelta, **fields: Any) -> VoxCampaign:
    fields.setdefault("total_calls", 10_000)
    fields.setdefault("call_window", None)
    return vox.add(VoxCampaign(id=cid, name=f"c{cid}", created_at=T0 + created, **fields))


async def list_page(client: httpx.AsyncClient, body: Any = None, **kw: Any) -> httpx.Response:
    return await client.post("/v2/campaigns/list", json=body, headers=kw.get("headers", AUTH))


async def listed(client: httpx.AsyncClient, body: Any = None) -> dict[str, Any]:
    response = await list_page(client, body)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


def ids(payload: dict[str, Any]) -> list[str]:
    return [c["id"] for c in payload["campaigns"]]


async def one(client: httpx.AsyncClient, cid: str) -> dict[str, Any]:
    (found,) = [c for c in (await listed(client, {"limit": 500}))["campaigns"] if c["id"] == cid]
    return found


# --- auth and errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}, {"X-API-Key": KEY}]
)
async def test_a_missing_or_wrong_bearer_key_is_401_in_vox_envelope(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for path in ("/v2/campaigns/list", "/v2/campaigns"):
        response = await client.post(path, json={}, headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "error": {"code": "UNAUTHORIZED", "message": "Invalid or missing API key"}
        }


async def test_only_the_documented_v2_routes_exist(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v2/campaigns/list", headers=AUTH)).status_code == 405
    assert (await client.get("/v2/campaigns/100001", headers=AUTH)).status_code == 404
    assert (await client.get("/v3/campaigns", headers=AUTH)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"limit": 0}, "limit", "limit=0: must be >= 1"),
        ({"limit": 501}, "limit", "limit=501: must be between 1 and 500"),
        ({"limit": "10"}, "limit", "limit='10': expected integer, got str"),
        ({"limit": True}, "limit", "limit=True: expected integer, got bool"),
        ({"sort_order": "desc"}, "sort_order", "sort_order='desc': expected descending or"),
        ({"cursor": "1"}, "cursor", "cursor='1': unknown field; allowed: filter_criteria, sort"),
        ({"pagination_key": 5}, "pagination_key", "pagination_key=5: expected string"),
        ({"filter_criteria": []}, "filter_criteria", "filter_criteria=[]: expected an object"),
        (
            {"filter_criteria": {"updated_since": 1}},
            "filter_criteria.updated_since",
            "filter_criteria.updated_since=1: unknown field; allowed: status, agent_id",
        ),
        (
            {"filter_criteria": {"status": "ongoing"}},
            "filter_criteria.status",
            "filter_criteria.status='ongoing': expected array",
        ),
        (
            {"filter_criteria": {"status": ["archived"]}},
            "filter_criteria.status",
            "filter_criteria.status=['archived']: expected values among draft, pending",
        ),
        (
            {"filter_criteria": {"agent_id": [1]}},
            "filter_criteria.agent_id",
            "filter_criteria.agent_id=[1]: expected an array of strings",
        ),
        (
            {"filter_criteria": {"start_timestamp": {"lower_threshold": "2026-03-02"}}},
            "filter_criteria.start_timestamp.lower_threshold",
            "filter_criteria.start_timestamp.lower_threshold='2026-03-02': expected integer unix",
        ),
        (
            {"filter_criteria": {"start_timestamp": {"upper": 1}}},
            "filter_criteria.start_timestamp.upper",
            "filter_criteria.start_timestamp.upper=1: unknown field",
        ),
        ([], "", "expected an object, got list"),
    ],
)
async def test_list_body_is_validated_naming_the_field(
    client: httpx.AsyncClient, body: Any, field: str, message: str
) -> None:
    response = await list_page(client, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"].startswith(message)
    assert error["details"] == {"field": field}


async def test_a_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/v2/campaigns/list", content=b"{limit:", headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_fault_responses_use_the_vox_envelope(
    client: httpx.AsyncClient, faults: Faults
) -> None:
    faults.update({"rate_limited": 1, "retry_after": 9, "server_errors": 1})
    limited = await list_page(client, {})
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "9")
    assert limited.json() == {"error": {"code": "RATE_LIMITED", "message": "Too many requests"}}
    failed = await list_page(client, {})
    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "INTERNAL_ERROR"
    assert (await list_page(client, {})).status_code == 200


# --- the list and its paging ------------------------------------------------------------


async def test_campaign_dto_has_every_schema_field_with_iso_times(
    client: httpx.AsyncClient, vox: VoxEngine, clock: ManualClock
) -> None:
    window = CallWindow(
        timezone="Asia/Seoul",
        ranges=(WindowRange(days=(Weekday.MONDAY,), start_min=540, end_min=720),),
        auto_resume=True,
    )
    add(
        vox,
        "100001",
        created=-HOUR,
        scheduled_at=T0 - 30 * MINUTE,
        total_calls=200,
        agent_version=4,
        presentation_number="15881508",
        call_window=window,
    )
    clock.advance(10 * MINUTE)
    dto = await one(client, "100001")
    assert set(dto) == SCHEMA_FIELDS
    assert dto == {
        "id": "100001",
        "name": "c100001",
        "status": "ongoing",
        "agent_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
        "from_number": "0212345678",
        "total_calls": 200,
        "created_at": "2026-03-01T23:00:00Z",
        "organization_id": DEMO_ORGANIZATION_ID,
        "agent_version": 4,
        "presentation_number": "15881508",
        "completed_calls": dto["completed_calls"],
        "failed_calls": dto["failed_calls"],
        "scheduled_at": "2026-03-01T23:30:00Z",
        "finished_at": None,
        "paused_at": None,
        "concurrency": 5,
        "active_concurrency": 5,
        "call_time_window": {
            "windows": [{"days": ["Monday"], "start_min": 540, "end_min": 720}],
            "timezone": "Asia/Seoul",
            "auto_resume": True,
        },
        "paused_by": None,
    }
    # Dialing began when the window opened at T0 (09:00 KST), not at the 08:31 dispatch:
    # 10 minutes at 5 lines of one call per 120 s.
    assert dto["completed_calls"] + dto["failed_calls"] == 25


async def test_agent_version_is_served_as_stored_string_or_integer(
    client: httpx.AsyncClient, vox: VoxEngine
) -> None:
    add(vox, "1", created=-HOUR, agent_version="production")
    add(vox, "2", created=-HOUR, agent_version=12)
    versions = {c["id"]: c["agent_version"] for c in (await listed(client))["campaigns"]}
    assert versions == {"1": "production", "2": 12}


async def test_paging_follows_the_last_campaign_id_newest_first(
    client: httpx.AsyncClient, vox: VoxEngine
) -> None:
    for n in range(5):
        add(vox, str(101 + n), created=-HOUR + n * MINUTE)
    first = await listed(client, {"limit": 2})
    assert (ids(first), first["next_cursor"], first["total_count"]) == (["105", "104"], "104", 5)
    second = await listed(client, {"limit": 2, "pagination_key": "104"})
    assert (ids(second), second["next_cursor"]) == (["103", "102"], "102")
    last = await listed(client, {"limit": 2, "pagination_key": "102"})
    assert (ids(last), last["next_cursor"], last["total_count"]) == (["101"], None, 5)


async def test_ascending_order_and_numeric_ids_sort_numerically(
    client: httpx.AsyncClient, vox: VoxEngine
) -> None:
    for cid in ("100", "99", "1000"):
        add(vox, cid, created=-HOUR)  # same created_at: the id breaks the tie
    add(vox, "5", created=-2 * HOUR)
    up = await listed(client, {"sort_order": "ascending", "limit": 3})
    assert (ids(up), up["next_cursor"]) == (["5", "99", "100"], "100")
    rest = await listed(client, {"sort_order": "ascending", "pagination_key": "100"})
    assert (ids(rest), rest["next_cursor"]) == (["1000"], None)
    assert ids(await listed(client, {"sort_order": "descending"})) == ["1000", "100", "99", "5"]


async def test_defaults_limit_50_descending_for_an_empty_or_null_body(
    client: httpx.AsyncClient, vox: VoxEngine
) -> None:
    for n in range(51):
        add(vox, str(1000 + n), created=-HOUR + n * timedelta(seconds=1))
    for body in (None, {}, {"filter_criteria": None, "pagination_key": None}):
        page = await listed(client, body)
        assert len(page["campaigns"]) == 50
        assert page["campaigns"][0]["id"] == "1050"
        assert page["next_cursor"] == "1001"
    assert len((await listed(client, {"limit": 500}))["campaigns"]) == 51


async def test_page_size_fault_caps_the_limit(
    client: httpx.AsyncClient, vox: VoxEngine, faults: Faults
) -> None:
    for n in range(4):
        add(vox, str(11 + n), created=-HOUR + n * MINUTE)
    faults.page_size = 3
    page = await listed(client, {"limit": 100})
    assert (ids(page), page["next_cursor"]) == (["14", "13", "12"], "12")


async def test_a_pagination_key_naming_no_campaign_is_400(
    client: httpx.AsyncClient, vox: VoxEngine
) -> None:
    add(vox, "7", created=-HOUR)
    response = await list_page(client, {"pagination_key": "8"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "pagination_key does not name a campaign",
            "details": {"field": "pagination_key"},
        }
    }


async def test_paging_is_keyset_so_a_status_change_between_pages_skips_nothing(
    client: httpx.AsyncClient, vox: VoxEngine
) -> None:
    for n in range(4):
        add(vox, str(21 + n), created=-HOUR + n * MINUTE, scheduled_at=T0 - HOUR)
    running = {"limit": 2, "filter_criteria": {"status": ["ongoing"]}}
    first = await listed(client, running)
    assert (ids(first), first["next_cursor"]) == (["24", "23"], "23")
    vox.pause(vox.get("23"))  # type: ignore[arg-type]  # the anchor no longer matches
    second = await listed(client, {**running, "pagination_key": "23"})
    assert (ids(second), second["next_cursor"], second["total_count"]) == (["22", "21"], None, 3)


async def test_filters_by_status_agent_and_created_at_in_milliseconds(
    client: httpx.AsyncClient, vox: VoxEngine
) -> None:
    add(vox, "31", created=-3 * HOUR, scheduled_at=T0 + HOUR, agent_id="a")  # draft
    add(vox, "32", created=-2 * HOUR, agent_id="b")  # pending → ongoing
    add(vox, "33", created=-HOUR, agent_id="a", scheduled_at=T0 - HOUR)  # ongoing
    vox.advance()

    async def matching(criteria: dict[str, Any]) -> tuple[list[str], int]:
        page = await listed(client, {"filter_criteria": criteria})
        return ids(page), page["total_count"]

    assert await matching({"status": ["ongoing"]}) == (["33", "32"], 2)
    assert await matching({"status": ["draft", "paused"]}) == (["31"], 1)
    assert await matching({"status": []}) == ([], 0)
    assert await matching({"agent_id": ["a"]}) == (["33", "31"], 2)
    assert await matching({"agent_id": ["a"], "status": ["ongoing"]}) == (["33"], 1)
    two_hours_ago = to_unix_ms(T0 - 2 * HOUR)  # both bounds are inclusive
    assert await matching({"start_timestamp": {"lower_threshold": two_hours_ago}}) == (
        ["33", "32"],
        2,
    )
    assert await matching({"start_timestamp": {"upper_threshold": two_hours_ago}}) == (
        ["32", "31"],
        2,
    )
    only = {"lower_threshold": two_hours_ago, "upper_threshold": two_hours_ago}
    assert await matching({"start_timestamp": only}) == (["32"], 1)
    empty = {"lower_threshold": two_hours_ago + 1, "upper_threshold": two_hours_ago}
    assert await matching({"start_timestamp": empty}) == ([], 0)


# --- state machine through the v2 view ---------------------------------------------------


def create_body(tasks: int, /, **extra: Any) -> dict[str, Any]:
    return {
        "name": "lifecycle",
        "call_from": "01012345678",
        "agent_id": "550e8400-e29b-41d4-a716-446655440000",
        "tasks": [{"call_to": f"010{n:08d}"} for n in range(tasks)],
        **extra,
    }


async def test_transitions_happen_at_exact_instants(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    body = create_body(
        520,
        scheduled_at="2026-03-02T00:30:00Z",
        call_time_window=SEOUL_DAY,
        _sim={"seconds_per_call": 120},
    )
    created = await client.post("/v2/campaigns", json=body, headers=AUTH)
    assert created.status_code == 200
    cid = created.json()["id"]
    assert created.json()["status"] == "draft"
    tick = timedelta(microseconds=1)

    async def at(instant: Any) -> dict[str, Any]:
        clock.set(instant)
        return await one(client, cid)

    # draft until scheduled_at; pending exactly then; ongoing one dispatch minute later.
    assert (await at(T0 + 30 * MINUTE - tick))["status"] == "draft"
    assert (await at(T0 + 30 * MINUTE))["status"] == "pending"
    assert (await at(T0 + 31 * MINUTE - tick))["status"] == "pending"
    started = await at(T0 + 31 * MINUTE)
    assert (started["status"], started["active_concurrency"]) == ("ongoing", 5)
    # The 12:00 KST close pauses it for the system at exactly 03:00Z.
    assert (await at(T0 + 3 * HOUR - tick))["status"] == "ongoing"
    paused = await at(T0 + 3 * HOUR)
    assert (paused["status"], paused["paused_by"], paused["paused_at"]) == (
        "paused",
        "system",
        "2026-03-02T03:00:00Z",
    )
    assert paused["active_concurrency"] == 0
    # 149 minutes dialed at 2.5 calls a minute.
    assert paused["completed_calls"] + paused["failed_calls"] == 372
    # 13:00 KST: auto-resumed, and the pause fields are cleared.
    resumed = await at(T0 + 4 * HOUR)
    assert (resumed["status"], resumed["paused_at"], resumed["paused_by"]) == (
        "ongoing",
        None,
        None,
    )
    # 520 calls need 208 minutes of dialing: 59 more after 04:00Z.
    assert (await at(T0 + 4 * HOUR + 59 * MINUTE - tick))["status"] == "ongoing"
    done = await at(T0 + 5 * HOUR)
    assert (done["status"], done["finished_at"]) == ("success", "2026-03-02T04:59:00Z")
    assert done["completed_calls"] + done["failed_calls"] == 520
    assert done["active_concurrency"] == 0


async def test_one_late_look_sees_the_same_history_as_many_looks(clock: ManualClock) -> None:
    def engine_with_one() -> VoxEngine:
        engine = VoxEngine(clock, seed=3)
        add(
            engine,
            "41",
            created=-HOUR,
            scheduled_at=T0,
            total_calls=520,
            call_window=CallWindow(
                timezone="Asia/Seoul",
                ranges=(
                    WindowRange(days=(Weekday.MONDAY,), start_min=540, end_min=720),
                    WindowRange(days=(Weekday.MONDAY,), start_min=780, end_min=1080),
                ),
                auto_resume=True,
            ),
        )
        return engine

    stepped, jumped = engine_with_one(), engine_with_one()
    for _ in range(6 * 60 // 7):
        clock.advance(7 * MINUTE)
        stepped.advance()
    jumped.advance()
    a, b = stepped.get("41"), jumped.get("41")
    assert a is not None
    assert b is not None
    assert a.transitions == b.transitions
    assert (a.completed_calls, a.failed_calls, a.finished_at) == (
        b.completed_calls,
        b.failed_calls,
        b.finished_at,
    )
    assert a.status == "success"


async def test_v2_and_v3_are_two_views_of_one_organization(
    client: httpx.AsyncClient, vox: VoxEngine, clock: ManualClock
) -> None:
    add(vox, "51", created=-HOUR, scheduled_at=T0 - HOUR, agent_version="production")
    v3 = httpx.ASGITransport(app=vox_v3.create_app(vox, api_key=KEY))
    async with httpx.AsyncClient(transport=v3, base_url="http://vox.test") as v3_client:
        clock.advance(5 * MINUTE)
        paused = await v3_client.post("/v3/campaigns/51/pause", headers=AUTH)
        assert paused.status_code == 200
    dto = await one(client, "51")
    assert (dto["status"], dto["paused_by"], dto["paused_at"]) == (
        "paused",
        "user",
        to_iso8601(T0 + 5 * MINUTE),
    )
    assert paused.json()["paused_at"] == to_unix_ms(T0 + 5 * MINUTE)


# --- create -------------------------------------------------------------------------------


async def test_create_with_the_seed_request_answers_the_seed_shape(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    request = json.loads((FIXTURES / "create_request.json").read_text())
    clock.advance(timedelta(seconds=12, milliseconds=345))
    response = await client.post("/v2/campaigns", json=request, headers=AUTH)
    assert response.status_code == 200
    dto = response.json()
    seed_response = json.loads((FIXTURES / "create_response.json").read_text())
    assert set(seed_response) <= set(dto) == SCHEMA_FIELDS
    assert dto == {
        "id": dto["id"],
        "name": "고객 설문 캠페인",
        "status": "pending",
        "agent_id": "550e8400-e29b-41d4-a716-446655440000",
        "from_number": "01012345678",
        "total_calls": 2,
        "created_at": "2026-03-02T00:00:12.345Z",
        "organization_id": "550e8400-e29b-41d4-a716-446655440001",
        "agent_version": "production",
        "presentation_number": "01099998888",
        "completed_calls": 0,
        "failed_calls": 0,
        "scheduled_at": None,
        "finished_at": None,
        "paused_at": None,
        "concurrency": 10,
        "active_concurrency": 0,
        "call_time_window": request["call_time_window"],
        "paused_by": None,
    }
    assert dto["id"].isdigit()
    assert ids(await listed(client)) == [dto["id"]]


async def test_create_defaults_and_organization_of_the_key(
    vox: VoxEngine, clock: ManualClock
) -> None:
    app = create_app(vox, api_key=KEY, organization_id="org-2")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://vox.test"
    ) as http:
        response = await http.post("/v2/campaigns", json=create_body(3), headers=AUTH)
    dto = response.json()
    assert (dto["organization_id"], dto["agent_version"], dto["concurrency"]) == (
        "org-2",
        "production",
        5,
    )
    # The documented default window: 08:00-20:00 every day.
    assert dto["call_time_window"]["windows"] == [
        {"days": [d.value for d in Weekday], "start_min": 480, "end_min": 1200}
    ]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"call_from": None}, "call_from", "call_from=None: required"),
        ({"from_number": "x", "call_from": None}, "call_from", "call_from=None: required"),
        ({"tasks": []}, "tasks", "tasks=[]: at least one task is required"),
        ({"name": " "}, "name", "name=' ': must be 1-255 characters"),
        ({"concurrency": 101}, "concurrency", "concurrency=101: must be between 1 and 100"),
        ({"scheduled_at": 1772409600000}, "scheduled_at", "scheduled_at=1772409600000: expected"),
        ({"agent_version": "latest"}, "agent_version", "agent_version='latest': expected current"),
    ],
)
async def test_create_is_validated_naming_the_field(
    client: httpx.AsyncClient, change: dict[str, Any], field: str, message: str
) -> None:
    response = await client.post("/v2/campaigns", json=create_body(1, **change), headers=AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"].startswith(message)
    assert error["details"] == {"field": field}


# --- malformed records ------------------------------------------------------------------


async def test_malformations_break_exactly_the_documented_field(
    client: httpx.AsyncClient, vox: VoxEngine, faults: Faults
) -> None:
    kinds = ("bad_time", "unknown_status", "missing_id", "wrong_type")
    for n in range(5):
        add(vox, str(61 + n), created=-HOUR + n * MINUTE, total_calls=300)
    healthy = await one(client, "61")
    faults.malformed = {str(61 + n): kind for n, kind in enumerate(kinds)}
    served = {c.get("id", "<none>"): c for c in (await listed(client))["campaigns"]}

    def same_but(record: dict[str, Any], reference: dict[str, Any]) -> set[str]:
        keys = set(record) | set(reference)
        return {k for k in keys if record.get(k, "<absent>") != reference.get(k, "<absent>")}

    reference = healthy
    assert served["61"]["created_at"] == to_unix_ms(T0 - HOUR)
    assert same_but(served["61"], reference) == {"created_at"}
    assert served["62"]["status"] == "archived"
    assert served["<none>"]["name"] == "c63"
    assert "id" not in served["<none>"]
    assert set(served) == {"61", "62", "<none>", "64", "65"}
    assert served["64"]["total_calls"] == "300"
    assert isinstance(healthy["total_calls"], int)


# --- the adapter speaks the documented request -------------------------------------------


class Recorder:
    """Keeps each request's headers and JSON body on their way to the simulator."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests: list[tuple[str, dict[str, str], Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(
            (f"{scope['method']} {scope['path']}", headers, json.loads(b"".join(chunks)))
        )
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


async def test_adapter_posts_the_documented_list_body_and_follows_the_cursor(
    vox: VoxEngine, clock: ManualClock
) -> None:
    for n in range(5):
        add(vox, str(71 + n), created=-HOUR + n * MINUTE)
    recorder = Recorder(create_app(vox, api_key=KEY))
    target = VoxV2Target(
        account="acme", base_url="http://vox.test", api_key=SecretStr(KEY), page_size=2
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=recorder), base_url=target.base_url
    ) as http:
        provider = VoxV2Source.from_settings(target, http, clock)
        pages = [[raw["id"] for raw in page] async for page in provider.pages()]
    assert pages == [["75", "74"], ["73", "72"], ["71"]]
    assert [(where, body) for where, _, body in recorder.requests] == [
        ("POST /v2/campaigns/list", {"sort_order": "descending", "limit": 2}),
        (
            "POST /v2/campaigns/list",
            {"sort_order": "descending", "limit": 2, "pagination_key": "74"},
        ),
        (
            "POST /v2/campaigns/list",
            {"sort_order": "descending", "limit": 2, "pagination_key": "72"},
        ),
    ]
    assert {headers["authorization"] for _, headers, _ in recorder.requests} == {f"Bearer {KEY}"}
    assert {headers["content-type"] for _, headers, _ in recorder.requests} == {"application/json"}


# --- the demo fleet ---------------------------------------------------------------------


@pytest.mark.parametrize("start", [T0, T0 + 2 * HOUR + 50 * MINUTE, T0 + 15 * HOUR + 7 * MINUTE])
async def test_demo_fleet_starts_pauses_resumes_and_finishes_within_six_hours(
    start: Any,
) -> None:
    clock = ManualClock(start)
    app, engine = demo_app(clock, seed=1)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo.test") as http:
        headers = {"Authorization": f"Bearer {DEMO_API_KEY}"}
        first = (await http.post("/v2/campaigns/list", json={}, headers=headers)).json()
        assert (await http.post("/v2/campaigns/list", json={})).status_code == 401
        clock.advance(6 * HOUR)
        later = (await http.post("/v2/campaigns/list", json={}, headers=headers)).json()
    assert first["total_count"] == 7
    versions = {c["agent_version"] for c in first["campaigns"]}
    assert {type(v) for v in versions} == {str, int}
    status = {c["id"]: c["status"] for c in first["campaigns"]}
    assert status == {
        "200101": "ongoing",
        "200102": "draft",
        "200103": "ongoing",
        "200104": "ongoing",
        "200105": "pending",
        "200106": "success",
        "200107": "paused",
    }

    def after_start(cid: str) -> list[tuple[timedelta, str]]:
        campaign = engine.get(cid)
        assert campaign is not None
        return [(at - start, s) for at, s in campaign.transitions if at > start]

    assert [s for _, s in after_start("200101")] == ["paused", "ongoing", "success"]
    assert after_start("200101")[:2] == [(HOUR, "paused"), (2 * HOUR, "ongoing")]
    assert after_start("200102") == [
        (45 * MINUTE, "pending"),
        (46 * MINUTE, "ongoing"),
        (76 * MINUTE, "success"),
    ]
    assert after_start("200103") == [(90 * MINUTE, "paused")]
    assert after_start("200104") == [(31 * MINUTE, "fail")]
    assert after_start("200105") == [(MINUTE, "ongoing"), (5 * HOUR, "paused")]
    assert after_start("200106") == after_start("200107") == []
    final = {c["id"]: (c["status"], c["paused_by"]) for c in later["campaigns"]}
    assert final == {
        "200101": ("success", None),
        "200102": ("success", None),
        "200103": ("paused", "system"),
        "200104": ("fail", None),
        "200105": ("paused", "system"),
        "200106": ("success", None),
        "200107": ("paused", "user"),
    }
