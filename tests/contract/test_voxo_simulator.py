"""The VOXO simulator over HTTP, and the VOXO adapter's HTTP behaviour against it.

Simulator: login and tokens on the simulated clock, the bare-array list, details,
FeathersJS-style errors, the dialing state machine at exact instants, and the
admin create/PATCH endpoints with the seed's validation rules.

Adapter: one login shared by concurrent requests, re-login once on 401, detail
404 fallback, pages split from the one list response.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.lowlevel
import httpx
import pytest
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import T0
from tests.kits.voxo import EMAIL, PASSWORD, TARGET, TENANT, campaign
from worker.clock import ManualClock
from worker.config import HttpSettings, VoxoTarget
from worker.domain.campaign import Status
from worker.errors import ProviderAuthError, ProviderRejected, ProviderUnavailable
from worker.ports import Detail, Provider
from worker.runtime.targets import provider_for
from worker.simulators.faults import Faults
from worker.simulators.voxo import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DEMO_TENANT_ID,
    create_app,
    demo_app,
)
from worker.simulators.voxo_engine import DISPOSITIONS, VoxoEngine
from worker.simulators.voxo_requests import VoxoCampaign

FIXTURES = Path(__file__).parent.parent / "fixtures" / "voxo"
LIST_KEYS = list(json.loads((FIXTURES / "list_item.json").read_text()))
DETAIL_KEYS = list(json.loads((FIXTURES / "detail.json").read_text()))
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def feathers(name: str, class_name: str, code: int, message: str, errors: Any = None) -> Any:
    return {
        "name": name,
        "message": message,
        "code": code,
        "className": class_name,
        "errors": errors or {},
    }


@pytest.fixture
def engine(clock: ManualClock) -> VoxoEngine:
    sim = VoxoEngine(clock, seed=3, token_lifetime=HOUR)
    sim.add_user(EMAIL, PASSWORD, TENANT)
    sim.add_user("other@voxo.test", "other-password", 999)
    return sim


@asynccontextmanager
async def http(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://voxo.test") as client:
        yield client


async def bearer(client: httpx.AsyncClient, email: str = EMAIL, password: str = PASSWORD) -> Any:
    body = {"strategy": "local", "email": email, "password": password}
    response = await client.post("/authentication", json=body)
    assert response.status_code == 201
    return {"Authorization": f"Bearer {response.json()['accessToken']}"}


def dialing(engine: VoxoEngine, start: datetime, end: datetime, **extra: Any) -> VoxoCampaign:
    return engine.add(campaign(engine, start=start, end=end, **extra))


# --- login and tokens ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/authentication", "/v2/authentication"])
async def test_login_answers_201_with_the_documented_shape(engine: VoxoEngine, path: str) -> None:
    documented = json.loads((FIXTURES / "authentication_response.json").read_text())
    async with http(create_app(engine)) as client:
        body = {"strategy": "local", "email": EMAIL, "password": PASSWORD}
        response = await client.post(path, json=body)
    assert response.status_code == 201
    data = response.json()
    assert sorted(data) == sorted(documented)
    assert data["authentication"] == {"strategy": "local"}
    assert data["user"]["tenantId"] == TENANT
    assert data["user"]["lastOnline"] == "2026-03-02 00:00:00"
    assert PASSWORD not in response.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"strategy": "local", "email": EMAIL, "password": "nope"}, "Invalid login"),
        ({"strategy": "local", "email": "who@voxo.test", "password": PASSWORD}, "Invalid login"),
        (
            {"strategy": "jwt", "email": EMAIL, "password": PASSWORD},
            "Invalid authentication information",
        ),
    ],
)
async def test_refused_logins_answer_not_authenticated(
    engine: VoxoEngine, body: Any, message: str
) -> None:
    async with http(create_app(engine)) as client:
        response = await client.post("/authentication", json=body)
    assert response.status_code == 401
    assert response.json() == feathers("NotAuthenticated", "not-authenticated", 401, message)
    assert engine.logins == 0


async def test_tokens_expire_after_their_lifetime_on_the_simulated_clock(
    engine: VoxoEngine, clock: ManualClock
) -> None:
    async with http(create_app(engine)) as client:
        headers = await bearer(client)
        clock.advance(HOUR - timedelta(seconds=1))
        fresh = await client.get(f"/v2/call-campaigns?tenantId={TENANT}", headers=headers)
        clock.advance(timedelta(seconds=1))
        expired = await client.get(f"/v2/call-campaigns?tenantId={TENANT}", headers=headers)
        bogus = await client.get(
            f"/v2/call-campaigns?tenantId={TENANT}", headers={"Authorization": "Bearer x"}
        )
        missing = await client.get(f"/v2/call-campaigns?tenantId={TENANT}")
    assert fresh.status_code == 200
    assert expired.status_code == 401
    assert expired.json() == feathers("NotAuthenticated", "not-authenticated", 401, "jwt expired")
    assert bogus.json()["message"] == "invalid token"
    assert missing.json()["message"] == "Not authenticated"


# --- list and detail ----------------------------------------------------------------------


async def test_the_list_is_a_bare_array_of_the_documented_fields(
    engine: VoxoEngine, clock: ManualClock
) -> None:
    second = dialing(engine, T0 - HOUR, T0 + HOUR)
    first = dialing(engine, T0 - HOUR, T0 + HOUR)
    first.id, second.id = 11_111_111_111, 22_222_222_222  # ids past 32 bits, listed by id
    engine.add(
        VoxoCampaign(
            id=5,
            tenant_id=999,
            name="another tenant",
            date_start="2026-03-01",
            time_start="00:00",
            date_end="2026-03-09",
            time_end="00:00",
            timezone="UTC",
            created_at=T0,
        )
    )
    async with http(create_app(engine, faults=Faults(page_size=1))) as client:
        response = await client.get(
            "/v2/call-campaigns", params={"tenantId": TENANT}, headers=await bearer(client)
        )
    body = response.json()
    assert isinstance(body, list)
    assert [item["id"] for item in body] == [11_111_111_111, 22_222_222_222]  # no paging at all
    assert all(list(item) == LIST_KEYS for item in body)
    assert body[0]["lastrun"] == "2026-03-01 18:00:00"  # dialed at T0, naive Chicago time
    assert (body[0]["dateStart"], body[0]["timeStart"]) == ("2026-03-01", "17:00")


@pytest.mark.parametrize(
    ("query", "status", "expected"),
    [
        ("", 400, feathers("BadRequest", "bad-request", 400, "tenantId must be a number")),
        (
            "?tenantId=abc",
            400,
            feathers("BadRequest", "bad-request", 400, "tenantId must be a number"),
        ),
        (
            "?tenantId=999",
            403,
            feathers("Forbidden", "forbidden", 403, "You do not have access to tenant 999"),
        ),
    ],
)
async def test_the_list_needs_the_token_users_tenant(
    engine: VoxoEngine, query: str, status: int, expected: Any
) -> None:
    async with http(create_app(engine)) as client:
        response = await client.get(f"/v2/call-campaigns{query}", headers=await bearer(client))
    assert (response.status_code, response.json()) == (status, expected)


async def test_the_detail_adds_numbers_destinations_and_vm_detection(engine: VoxoEngine) -> None:
    c = dialing(engine, T0 + HOUR, T0 + 2 * HOUR, numbers=2)
    other = engine.add(campaign(engine, start=T0, end=T0 + HOUR))
    other.tenant_id = 999
    async with http(create_app(engine)) as client:
        headers = await bearer(client)
        found = await client.get(f"/v2/call-campaigns/{c.id}", headers=headers)
        foreign = await client.get(f"/v2/call-campaigns/{other.id}", headers=headers)
        bogus = await client.get("/v2/call-campaigns/abc", headers=headers)
    assert list(found.json()) == DETAIL_KEYS
    assert found.json()["numbers"] == [
        {"number": "6013150000", "description": "lead 0", "disposition": ""},
        {"number": "6013150001", "description": "lead 1", "disposition": ""},
    ]
    assert found.json()["enableVMDetect"] == 0
    assert foreign.status_code == 404
    assert foreign.json()["message"] == f"No record found for id '{other.id}'"
    assert bogus.json() == feathers("NotFound", "not-found", 404, "No record found for id 'abc'")


# --- the dialing state machine ------------------------------------------------------------


async def state_of(client: httpx.AsyncClient, campaign_id: int) -> Any:
    response = await client.get(f"/v2/call-campaigns/{campaign_id}", headers=await bearer(client))
    return response.json()


async def test_dials_start_at_the_start_every_call_frequency_and_stop_when_numbers_run_out(
    engine: VoxoEngine, clock: ManualClock
) -> None:
    c = dialing(engine, T0 + HOUR, T0 + 3 * HOUR, numbers=5)
    async with http(create_app(engine)) as client:
        clock.set(T0 + HOUR - timedelta(seconds=1))
        before = await state_of(client, c.id)
        clock.set(T0 + HOUR)
        at_start = await state_of(client, c.id)
        clock.set(T0 + HOUR + 3 * MINUTE + timedelta(seconds=59))
        midway = await state_of(client, c.id)
        clock.set(T0 + 2 * HOUR)
        exhausted = await state_of(client, c.id)
    assert before["lastrun"] is None
    assert {n["disposition"] for n in before["numbers"]} == {""}
    assert at_start["lastrun"] == "2026-03-01 19:00:00"
    assert [n["disposition"] != "" for n in at_start["numbers"]] == [True] + [False] * 4
    assert midway["lastrun"] == "2026-03-01 19:03:00"
    assert exhausted["lastrun"] == "2026-03-01 19:04:00"  # the fifth and last number
    assert {n["disposition"] for n in exhausted["numbers"]} <= set(DISPOSITIONS)
    assert exhausted["state"] == "READY"


async def test_dispositions_are_deterministic_from_the_seed(clock: ManualClock) -> None:
    outcomes = []
    for _ in range(2):
        sim = VoxoEngine(clock, seed=11)
        c = sim.add(campaign(sim, start=T0 - HOUR, end=T0 + HOUR, numbers=30, created_at=T0 - HOUR))
        sim.advance()
        outcomes.append([n["disposition"] for n in c.numbers])
    assert outcomes[0] == outcomes[1]
    assert len(set(outcomes[0])) > 1  # not one constant value


async def test_dials_happen_only_within_call_hours(engine: VoxoEngine, clock: ManualClock) -> None:
    # In range for days; call hours 19:00-19:03 Chicago (T0+1h to T0+1h03).
    c = dialing(
        engine,
        T0 - HOUR,
        T0 + 72 * HOUR,
        numbers=10,
        call_hours_start="19:00",
        call_hours_end="19:03",
    )
    async with http(create_app(engine)) as client:
        clock.set(T0 + HOUR - timedelta(seconds=1))
        closed = await state_of(client, c.id)
        clock.set(T0 + 2 * HOUR)
        first_day = await state_of(client, c.id)
        clock.set(T0 + 25 * HOUR)
        second_day = await state_of(client, c.id)
    assert closed["lastrun"] is None
    assert first_day["lastrun"] == "2026-03-01 19:02:00"  # 19:00, 19:01, 19:02; closed at 19:03
    assert sum(n["disposition"] != "" for n in first_day["numbers"]) == 3
    assert second_day["lastrun"] == "2026-03-02 19:00:00"  # reopened: dials at once


async def test_pause_and_resume_by_patch_at_exact_instants(
    engine: VoxoEngine, clock: ManualClock
) -> None:
    c = dialing(engine, T0, T0 + 3 * HOUR, numbers=100)
    async with http(create_app(engine)) as client:
        headers = await bearer(client)
        path = f"/v2/admin/call-campaigns/{c.id}"
        clock.set(T0 + 2 * MINUTE + timedelta(seconds=30))
        paused = await client.patch(path, json={"state": "PAUSED"}, headers=headers)
        clock.set(T0 + 20 * MINUTE)
        idle = await state_of(client, c.id)
        resumed = await client.patch(path, json={"state": "READY"}, headers=headers)
        clock.set(T0 + 21 * MINUTE + timedelta(seconds=30))
        later = await state_of(client, c.id)
    assert paused.status_code == 200
    assert (paused.json()["state"], paused.json()["lastrun"]) == ("PAUSED", "2026-03-01 18:02:00")
    assert idle["lastrun"] == "2026-03-01 18:02:00"  # no dial while paused
    assert resumed.json()["lastrun"] == "2026-03-01 18:20:00"  # dials the instant it resumes
    assert later["lastrun"] == "2026-03-01 18:21:00"
    assert c.transitions == [
        (T0 + 2 * MINUTE + timedelta(seconds=30), "PAUSED"),
        (T0 + 20 * MINUTE, "READY"),
    ]


async def test_after_its_end_a_campaign_stays_ready_and_stops_dialing(
    engine: VoxoEngine, clock: ManualClock
) -> None:
    c = dialing(engine, T0, T0 + 10 * MINUTE, numbers=100)
    async with http(create_app(engine)) as client:
        clock.set(T0 + 2 * HOUR)
        ended = await state_of(client, c.id)
    assert (ended["state"], ended["lastrun"]) == ("READY", "2026-03-01 18:09:00")
    assert sum(n["disposition"] != "" for n in ended["numbers"]) == 10


async def test_scripted_user_patches_apply_at_their_instant(
    engine: VoxoEngine, clock: ManualClock
) -> None:
    c = dialing(engine, T0, T0 + 3 * HOUR, numbers=100)
    engine.plan(c.id, T0 + 5 * MINUTE, "PAUSED")
    engine.plan(c.id, T0 + 30 * MINUTE, "READY")
    clock.set(T0 + HOUR)
    engine.advance()
    assert c.transitions == [(T0 + 5 * MINUTE, "PAUSED"), (T0 + 30 * MINUTE, "READY")]
    assert c.lastrun == T0 + HOUR
    assert sum(n["disposition"] != "" for n in c.numbers) == 6 + 31


# --- admin create and PATCH ---------------------------------------------------------------

VALID = {
    "name": "Spring renewals",
    "dateStart": "2026-03-02",
    "timeStart": "09:00",
    "dateEnd": "2026-03-06",
    "timeEnd": "17:00",
    "timezone": "America/Chicago",
}


async def test_create_answers_201_with_the_detail(engine: VoxoEngine) -> None:
    body = {
        **VALID,
        "callerId": "6013151002",
        "enableVMDetect": "1",
        "numbers": [{"number": "6015550100", "description": "a", "field1": "x"}],
    }
    async with http(create_app(engine)) as client:
        response = await client.post(
            "/v2/admin/call-campaigns/", json=body, headers=await bearer(client)
        )
    data = response.json()
    assert response.status_code == 201
    assert list(data) == DETAIL_KEYS
    assert data["id"] > 2**32
    assert (data["tenantId"], data["state"], data["enableVMDetect"]) == (TENANT, "PAUSED", 1)
    assert data["numbers"] == [{"number": "6015550100", "description": "a", "disposition": ""}]


async def test_create_names_every_missing_required_field(engine: VoxoEngine) -> None:
    async with http(create_app(engine)) as client:
        response = await client.post(
            "/v2/admin/call-campaigns/", json={"name": "abc"}, headers=await bearer(client)
        )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        name: "is a required property"
        for name in ("dateEnd", "dateStart", "timeEnd", "timeStart", "timezone")
    }


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({"name": "ab"}, "name", "must NOT have fewer than 3 characters"),
        ({"state": "RUNNING"}, "state", "must be equal to one of the allowed values"),
        ({"tech": "SMS"}, "tech", "must be equal to one of the allowed values"),
        ({"dateStart": "2026-13-01"}, "dateStart", "must match pattern"),
        ({"dateEnd": "0999-01-01"}, "dateEnd", "must match pattern"),
        ({"timeStart": "24:00"}, "timeStart", "must match pattern"),
        ({"timeEnd": "9:00"}, "timeEnd", "must match pattern"),
        ({"callHoursStart": "09:60"}, "callHoursStart", "must match pattern"),
        ({"callHoursEnd": "7pm"}, "callHoursEnd", "must match pattern"),
        ({"callerId": "0123456789"}, "callerId", "must match pattern"),
        ({"callerId": "601315100"}, "callerId", "must match pattern"),
        ({"callFrequency": 9}, "callFrequency", "must be > 9"),
        ({"timezone": "Mars/Olympus"}, "timezone", "must be an IANA timezone identifier"),
        ({"enableVMDetect": 1}, "enableVMDetect", "must be equal to one of the allowed values"),
        ({"destinations": [{"typeSrc": "x"}]}, "destinations", "items must have required"),
        ({"color": "red"}, "color", "must NOT have additional properties"),
    ],
)
async def test_patch_validates_the_seed_rules(
    engine: VoxoEngine, body: Any, field: str, problem: str
) -> None:
    c = dialing(engine, T0, T0 + HOUR)
    async with http(create_app(engine)) as client:
        response = await client.patch(
            f"/v2/admin/call-campaigns/{c.id}", json=body, headers=await bearer(client)
        )
    assert response.status_code == 400
    data = response.json()
    assert (data["name"], data["className"], data["code"]) == ("BadRequest", "bad-request", 400)
    assert list(data["errors"]) == [field]
    assert data["errors"][field].startswith(problem)


@pytest.mark.parametrize(("path_id", "status"), [("0", 400), ("abc", 400), ("77", 404)])
async def test_patch_needs_a_positive_known_campaign_id(
    engine: VoxoEngine, path_id: str, status: int
) -> None:
    async with http(create_app(engine)) as client:
        response = await client.patch(
            f"/v2/admin/call-campaigns/{path_id}",
            json={"state": "READY"},
            headers=await bearer(client),
        )
    assert response.status_code == status


async def test_patch_changes_schedule_and_window(engine: VoxoEngine, clock: ManualClock) -> None:
    c = dialing(engine, T0 + HOUR, T0 + 2 * HOUR, numbers=3)
    async with http(create_app(engine)) as client:
        response = await client.patch(
            f"/v2/admin/call-campaigns/{c.id}",
            json={"timeStart": "17:30", "callHoursStart": "18:00", "callHoursEnd": "20:00"},
            headers=await bearer(client),
        )
        clock.set(T0)  # 18:00 Chicago: the new start has passed and the call hours opened
        now = await state_of(client, c.id)
    assert response.json()["timeStart"] == "17:30"
    assert (now["callHoursStart"], now["callHoursEnd"], now["lastrun"]) == (
        "18:00",
        "20:00",
        "2026-03-01 18:00:00",
    )


# --- faults -------------------------------------------------------------------------------


async def test_breakers_apply_to_list_items_and_details(engine: VoxoEngine) -> None:
    ids = [dialing(engine, T0 - HOUR, T0 + HOUR).id for _ in range(4)]
    kinds = ("bad_time", "unknown_status", "missing_id", "wrong_type")
    faults = Faults(malformed=dict(zip(map(str, ids), kinds, strict=True)))
    async with http(create_app(engine, faults=faults)) as client:
        headers = await bearer(client)
        listed = (await client.get(f"/v2/call-campaigns?tenantId={TENANT}", headers=headers)).json()
        details = [
            (await client.get(f"/v2/call-campaigns/{i}", headers=headers)).json() for i in ids
        ]
    for items in (listed, details):
        assert items[0]["lastrun"] == "16/02/2022 14:33"
        assert items[1]["state"] == "EXPIRED"
        assert "id" not in items[2]
        assert items[3]["tenantId"] == str(TENANT)


async def test_rate_limit_answers_in_the_feathers_shape(engine: VoxoEngine) -> None:
    async with http(create_app(engine, faults=Faults(rate_limited=1, retry_after=7))) as client:
        response = await client.post("/authentication", json={})
    assert (response.status_code, response.headers["retry-after"]) == (429, "7")
    assert response.json() == feathers(
        "TooManyRequests", "too-many-requests", 429, "Too many requests"
    )


# --- the adapter against the simulator -----------------------------------------------------


class Spy:
    """Counts requests per path; can act just before, or fail, requests to a path prefix.

    Each request yields to the event loop before it is served, as a network
    would, so requests sent together are in flight together.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: dict[str, int] = {}
        self.before: dict[str, Callable[[], None]] = {}
        self.unavailable: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            self.paths[path] = self.paths.get(path, 0) + 1
            for prefix, action in list(self.before.items()):
                if path.startswith(prefix):
                    del self.before[prefix]
                    action()
            if self.unavailable is not None and path.startswith(self.unavailable):
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b"{}"})
                return
            # Let every other task run first, so concurrent requests really overlap.
            await anyio.lowlevel.checkpoint()
        await self.app(scope, receive, send)


@asynccontextmanager
async def adapter(
    engine: VoxoEngine, clock: ManualClock, faults: Faults | None = None, **settings: Any
) -> AsyncIterator[tuple[Provider, Spy]]:
    spy = Spy(create_app(engine, faults=faults))
    target: VoxoTarget = TARGET.model_copy(update=settings)
    transport = httpx.ASGITransport(app=spy)
    async with httpx.AsyncClient(base_url=target.base_url, transport=transport) as client:
        yield provider_for(target, client, clock), spy


async def detailed(provider: Provider) -> list[list[Detail]]:
    """Each page's details, as a cycle asks for them (every item here is new)."""
    return [list(await provider.source.details(page)) async for page in provider.source.pages()]


async def records(provider: Provider) -> list[list[Any]]:
    """Each page's records as a cycle normalizes them (the detail where it has one)."""
    return [[d.record for d in page] for page in await detailed(provider)]


async def test_one_login_serves_every_request_until_the_token_expires(
    engine: VoxoEngine, clock: ManualClock
) -> None:
    for _ in range(3):
        dialing(engine, T0 - HOUR, T0 + 9 * HOUR)
    async with adapter(engine, clock) as (provider, spy):
        first = await records(provider)
        assert engine.logins == 1
        clock.advance(2 * HOUR)  # past the one-hour token lifetime
        second = await records(provider)
    assert engine.logins == 2
    assert [len(p) for p in first] == [len(p) for p in second] == [2, 1]
    assert spy.paths["/v2/call-campaigns"] == 3  # the refused list call, retried once
    assert "voxo-sim." not in repr(provider.source.http._auth)


async def test_login_failures_name_the_login_and_transient_ones_are_retried(
    engine: VoxoEngine, clock: ManualClock
) -> None:
    dialing(engine, T0 - HOUR, T0 + HOUR)
    async with adapter(engine, clock) as (provider, spy):
        spy.unavailable = "/authentication"
        with pytest.raises(ProviderUnavailable) as info:
            await records(provider)
    assert str(info.value) == "voxo/kit: POST /authentication returned 503 (no error detail)"
    assert spy.paths == {"/authentication": 3}  # stamina's test mode: three attempts


async def test_a_login_answer_without_a_token_is_refused(clock: ManualClock) -> None:
    async def tokenless(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b'{"user": {}}'})

    transport = httpx.ASGITransport(app=tokenless)
    async with httpx.AsyncClient(base_url=TARGET.base_url, transport=transport) as client:
        provider = provider_for(TARGET, client, clock)
        with pytest.raises(ProviderRejected, match="returned 201 without an accessToken"):
            await records(provider)


async def test_a_login_refusal_echoing_the_request_never_carries_the_password(
    clock: ManualClock,
) -> None:
    async def echoing(scope: Scope, receive: Receive, send: Send) -> None:
        request = (await receive())["body"]  # a gateway answering FastAPI-style, input echoed
        body = json.dumps({"detail": [{"msg": "Field required", "input": json.loads(request)}]})
        await send({"type": "http.response.start", "status": 422, "headers": []})
        await send({"type": "http.response.body", "body": body.encode()})

    transport = httpx.ASGITransport(app=echoing)
    async with httpx.AsyncClient(base_url=TARGET.base_url, transport=transport) as client:
        provider = provider_for(TARGET, client, clock)
        with pytest.raises(ProviderRejected) as info:
            await records(provider)
    # The message keeps what the server said went wrong, never what it echoed back.
    assert str(info.value) == "voxo/kit: POST /authentication returned 422 (Field required)"
    assert TARGET.password.get_secret_value() not in str(info.value)


async def test_a_fresh_token_refused_again_is_a_config_error_after_one_relogin(
    clock: ManualClock,
) -> None:
    engine = VoxoEngine(clock, token_lifetime=timedelta(0))  # every token is born expired
    engine.add_user(EMAIL, PASSWORD, TENANT)
    async with adapter(engine, clock) as (provider, spy):
        with pytest.raises(ProviderAuthError) as info:
            await records(provider)
    assert info.value.status_code == 401
    assert (engine.logins, spy.paths["/v2/call-campaigns"]) == (2, 2)
    assert PASSWORD not in str(info.value)


async def test_concurrent_requests_refused_together_share_one_relogin(
    engine: VoxoEngine, clock: ManualClock
) -> None:
    ids = [dialing(engine, T0 - HOUR, T0 + 9 * HOUR).id for _ in range(8)]
    async with adapter(engine, clock, page_size=100, http=HttpSettings(max_concurrency=4)) as (
        provider,
        spy,
    ):
        # The token expires as the first detail request arrives: every detail
        # request then in flight is refused with the same token.
        spy.before["/v2/call-campaigns/"] = lambda: clock.advance(2 * HOUR)
        pages = await records(provider)
    assert engine.logins == 2
    assert [r["id"] for r in pages[0]] == ids
    assert all("numbers" in r for r in pages[0])  # every one a detail


async def test_a_detail_gone_between_list_and_detail_passes_the_list_item_on_as_missing(
    engine: VoxoEngine, clock: ManualClock
) -> None:
    _, deleted = (dialing(engine, T0 - HOUR, T0 + HOUR) for _ in range(2))
    async with adapter(engine, clock) as (provider, spy):
        spy.before[f"/v2/call-campaigns/{deleted.id}"] = lambda: engine.remove(deleted.id)
        (page,) = await detailed(provider)
    assert [(d.missing, d.failure) for d in page] == [(False, None), (True, None)]
    assert page[0].record is not None and "numbers" in page[0].record
    assert page[1].record is not None and list(page[1].record) == LIST_KEYS  # as listed
    assert (
        provider.dialect.normalize(page[1].record, observed_at=clock.now()).status is Status.RUNNING
    )


async def test_a_detail_that_keeps_failing_costs_that_campaign_only(
    engine: VoxoEngine, clock: ManualClock
) -> None:
    for _ in range(3):
        dialing(engine, T0 - HOUR, T0 + HOUR)
    async with adapter(engine, clock) as (provider, spy):
        spy.unavailable = "/v2/call-campaigns/"
        pages = await detailed(provider)
    assert spy.paths["/v2/call-campaigns"] == 1
    failures = [d.failure for page in pages for d in page]
    assert len(failures) == 3
    assert all(f is not None and "returned 503" in f for f in failures)
    assert all(d.record is None for page in pages for d in page)


async def test_items_without_a_usable_id_are_passed_on_unfetched(
    engine: VoxoEngine, clock: ManualClock
) -> None:
    c = dialing(engine, T0 - HOUR, T0 + HOUR)
    faults = Faults(malformed={str(c.id): "missing_id"})
    async with adapter(engine, clock, faults=faults) as (provider, spy):
        (page,) = await records(provider)
    assert "id" not in page[0]
    assert not any(p.startswith("/v2/call-campaigns/") for p in spy.paths)


async def test_without_fetch_detail_only_the_list_is_read(
    engine: VoxoEngine, clock: ManualClock
) -> None:
    for _ in range(3):
        dialing(engine, T0 - HOUR, T0 + HOUR)
    async with adapter(engine, clock, fetch_detail=False) as (provider, spy):
        pages = await records(provider)
    assert [[list(r) == LIST_KEYS for r in p] for p in pages] == [[True, True], [True]]
    assert sorted(spy.paths) == ["/authentication", "/v2/call-campaigns"]


async def test_an_empty_tenant_is_one_empty_page(engine: VoxoEngine, clock: ManualClock) -> None:
    async with adapter(engine, clock) as (provider, _):
        assert await records(provider) == [[]]


async def test_a_wrong_tenant_id_is_a_config_error(engine: VoxoEngine, clock: ManualClock) -> None:
    async with adapter(engine, clock, tenant_id=999) as (provider, _):
        with pytest.raises(ProviderAuthError) as info:
            await records(provider)
    assert info.value.status_code == 403


async def test_a_list_that_is_not_an_array_is_refused(clock: ManualClock) -> None:
    async def paginated(scope: Scope, receive: Receive, send: Send) -> None:
        body = {"accessToken": "t"} if scope["path"] == "/authentication" else {"data": []}
        payload = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": payload})

    transport = httpx.ASGITransport(app=paginated)
    async with httpx.AsyncClient(base_url=TARGET.base_url, transport=transport) as client:
        provider = provider_for(TARGET, client, clock)
        with pytest.raises(ProviderRejected, match="expected a JSON array, got an object"):
            await records(provider)


def chunked_list(body: bytes, *, chunk: int, complete: bool = True) -> ASGIApp:
    """A VOXO stand-in that sends its list in ``chunk``-byte pieces, or cut short."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/authentication":
            payload = b'{"accessToken": "t"}'
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": payload})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        sent = body if complete else body[: len(body) // 2]
        for at in range(0, len(sent), chunk):
            piece = sent[at : at + chunk]
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    return app


def listed(n: int) -> bytes:
    items = [
        {"id": i, "tenantId": TENANT, "name": f"c {i} [x], {{y}}", "state": "PAUSED"}
        for i in range(1, n + 1)
    ]
    return json.dumps(items).encode()


async def list_pages(app: ASGIApp, clock: ManualClock, page_size: int) -> list[list[Any]]:
    target = TARGET.model_copy(update={"page_size": page_size, "fetch_detail": False})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(base_url=target.base_url, transport=transport) as client:
        provider = provider_for(target, client, clock)
        return [list(page) async for page in provider.source.pages()]


@pytest.mark.parametrize("chunk", [1, 17, 1 << 16])
async def test_the_list_is_paged_the_same_however_the_body_is_cut(
    clock: ManualClock, chunk: int
) -> None:
    pages = await list_pages(chunked_list(listed(25), chunk=chunk), clock, page_size=10)
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [r["id"] for p in pages for r in p] == list(range(1, 26))
    assert pages[0][2]["name"] == "c 3 [x], {y}"


async def test_a_list_of_whole_pages_ends_without_an_empty_page(clock: ManualClock) -> None:
    pages = await list_pages(chunked_list(listed(20), chunk=100), clock, page_size=10)
    assert [len(p) for p in pages] == [10, 10]


async def test_a_list_cut_short_fails_as_unavailable_after_the_pages_it_completed(
    clock: ManualClock,
) -> None:
    target = TARGET.model_copy(update={"page_size": 10, "fetch_detail": False})
    app = chunked_list(listed(40), chunk=50, complete=False)
    transport = httpx.ASGITransport(app=app)
    seen: list[int] = []
    async with httpx.AsyncClient(base_url=target.base_url, transport=transport) as client:
        provider = provider_for(target, client, clock)

        async def drain() -> None:
            async for page in provider.source.pages():
                seen.append(len(page))

        with pytest.raises(ProviderUnavailable) as info:
            await drain()
    assert seen == [10, 10]  # 40 items cut in half: 20-odd whole items, then the cut
    assert str(info.value) == (
        "voxo/kit: GET /v2/call-campaigns returned 200 with a body that is not valid JSON: "
        "the body ended before its array did (truncated?)"
    )


async def test_one_list_item_past_the_body_limit_is_refused(clock: ManualClock) -> None:
    items = [{"id": 1, "tenantId": TENANT, "name": "x" * 5000}]
    app = chunked_list(json.dumps(items).encode(), chunk=512)
    target = TARGET.model_copy(update={"http": HttpSettings(max_body_bytes=1024)})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(base_url=target.base_url, transport=transport) as client:
        provider = provider_for(target, client, clock)
        with pytest.raises(ProviderRejected, match=r"passed 1024 characters .*http.max_body_bytes"):
            await records(provider)


# --- demo ---------------------------------------------------------------------------------


async def test_the_demo_fleet_moves_through_every_status_in_six_hours(clock: ManualClock) -> None:
    app, engine = demo_app(clock, seed=1)
    demo = TARGET.model_copy(
        update={
            "email": DEMO_EMAIL,
            "password": SecretStr(DEMO_PASSWORD),
            "tenant_id": DEMO_TENANT_ID,
            "page_size": 100,
        }
    )
    seen: dict[str, list[Status]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(base_url=demo.base_url, transport=transport) as client:
        provider = provider_for(demo, client, clock)
        for _ in range(6 * 4 + 1):  # every 15 minutes for six hours
            for raw in (r for page in await records(provider) for r in page):
                status = provider.dialect.normalize(raw, observed_at=clock.now()).status
                history = seen.setdefault(raw["name"], [])
                if not history or history[-1] is not status:
                    history.append(status)
            clock.advance(15 * MINUTE)
    assert 4 <= len(seen) <= 8
    assert seen["Spring renewals"] == [Status.SCHEDULED, Status.RUNNING, Status.COMPLETED]
    assert seen["Clinic reminders"] == [Status.RUNNING, Status.PAUSED, Status.RUNNING]
    assert seen["Past-due notices"] == [Status.PAUSED, Status.RUNNING, Status.COMPLETED]
    assert seen["Webinar follow-up"] == [
        Status.SCHEDULED,
        Status.RUNNING,
        Status.PAUSED,
        Status.RUNNING,
        Status.COMPLETED,
    ]
    assert engine.logins >= 3  # the demo's two-hour tokens are renewed on the way
    assert clock.now() == datetime(2026, 3, 2, 6, 15, tzinfo=UTC)
