"""The contract every provider adapter meets against its simulator, with every fault knob.

Each test runs once per provider kit (``tests/kits``): paging, auth failures,
429 with Retry-After (seconds and HTTP-date), 5xx bursts, truncated bodies,
latency past the deadline, small pages and malformed records.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.helpers import sim_client
from tests.kits import ProviderKit, all_kits
from worker.clock import ManualClock
from worker.config import HttpSettings
from worker.domain.campaign import Status
from worker.errors import NormalizationError, ProviderAuthError, ProviderUnavailable
from worker.ports import Provider
from worker.runtime.http_server import serve
from worker.runtime.targets import provider_for
from worker.simulators.faults import Faults

KITS = all_kits()


@pytest.fixture(params=sorted(KITS))
def kit(request: pytest.FixtureRequest) -> ProviderKit:
    return KITS[request.param]


class CountingApp:
    """Counts requests per path in front of a simulator."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths[scope["path"]] += 1
        await self.app(scope, receive, send)


@asynccontextmanager
async def adapter(
    kit: ProviderKit,
    clock: ManualClock,
    faults: Faults,
    *,
    bad: bool = False,
    http: HttpSettings | None = None,
) -> AsyncIterator[tuple[Provider, Any, CountingApp]]:
    app, state = kit.build(clock, faults, 1)
    counting = CountingApp(app)
    target = kit.bad_target if bad else kit.target
    if http is not None:
        target = target.model_copy(update={"http": http})
    async with httpx.AsyncClient(
        base_url=target.base_url, transport=httpx.ASGITransport(app=counting)
    ) as client:
        yield provider_for(target, client, clock), state, counting


async def collect(provider: Provider) -> list[list[Any]]:
    return [list(page) async for page in provider.source.pages()]


async def test_pages_stream_every_campaign_exactly_once(
    kit: ProviderKit, clock: ManualClock
) -> None:
    faults = Faults(page_size=2)
    async with adapter(kit, clock, faults) as (provider, state, _):
        ids = kit.populate(state, 5)
        pages = await collect(provider)
    assert all(len(page) <= 2 for page in pages)
    seen = [
        provider.dialect.normalize(raw, observed_at=clock.now()).campaign_id
        for page in pages
        for raw in page
    ]
    assert sorted(seen) == sorted(ids)


async def test_normalized_campaigns_have_aware_utc_times(
    kit: ProviderKit, clock: ManualClock
) -> None:
    async with adapter(kit, clock, Faults()) as (provider, state, _):
        kit.populate(state, 3)
        pages = await collect(provider)
    for raw in (r for page in pages for r in page):
        campaign = provider.dialect.normalize(raw, observed_at=clock.now())
        assert campaign.provider == kit.name
        assert campaign.account == kit.target.account
        for name in (
            "created_at",
            "scheduled_start_at",
            "scheduled_end_at",
            "paused_at",
            "finished_at",
        ):
            value = getattr(campaign, name)
            assert value is None or value.utcoffset().total_seconds() == 0


async def test_refused_credentials_are_a_config_error_and_not_retried(
    kit: ProviderKit, clock: ManualClock
) -> None:
    async with adapter(kit, clock, Faults(), bad=True) as (provider, state, counting):
        kit.populate(state, 1)
        with pytest.raises(ProviderAuthError) as info:
            await collect(provider)
    assert info.value.status_code == kit.auth_status
    assert "wrong" not in str(info.value)  # the refused secret is never echoed
    assert max(counting.paths.values()) <= 2  # at most one re-authentication, no retries


async def test_429_retry_after_seconds_is_retried_then_reported(
    kit: ProviderKit, clock: ManualClock
) -> None:
    async with adapter(kit, clock, Faults(rate_limited=1, retry_after=7)) as (provider, state, _):
        ids = kit.populate(state, 2)
        pages = await collect(provider)  # one 429, then success
    assert sum(len(p) for p in pages) == len(ids)

    async with adapter(kit, clock, Faults(rate_limited=100, retry_after=7)) as (
        provider,
        state,
        counting,
    ):
        kit.populate(state, 1)
        with pytest.raises(ProviderUnavailable) as info:
            await collect(provider)
    assert (info.value.status_code, info.value.retry_after) == (429, 7.0)
    assert sum(counting.paths.values()) >= 3  # stamina's test mode allows 3 attempts


async def test_429_retry_after_http_date_is_understood(
    kit: ProviderKit, clock: ManualClock
) -> None:
    faults = Faults(rate_limited=100, retry_after=30, retry_after_http_date=True)
    async with adapter(kit, clock, faults) as (provider, state, _):
        kit.populate(state, 1)
        with pytest.raises(ProviderUnavailable) as info:
            await collect(provider)
    assert info.value.retry_after == 30.0


async def test_an_http_date_retry_after_over_real_http_is_read_against_its_date(
    kit: ProviderKit, clock: ManualClock
) -> None:
    # On loopback, uvicorn stamps a wall-clock Date while the simulated clock says
    # 2026-03-02: the Retry-After date must be built from the same clock as Date.
    faults = Faults(rate_limited=100, retry_after=30, retry_after_http_date=True)
    app, state = kit.build(clock, faults, 1)
    kit.populate(state, 1)
    async with serve(app) as url:
        base = url + kit.target.base_url.split(".test", 1)[1]
        target = kit.target.model_copy(update={"base_url": base})
        async with httpx.AsyncClient(base_url=base) as client:
            provider = provider_for(target, client, clock)
            with pytest.raises(ProviderUnavailable) as info:
                await collect(provider)
    assert info.value.retry_after is not None
    assert 28 <= info.value.retry_after <= 31


@pytest.mark.parametrize(("burst", "recovers"), [(2, True), (50, False)])
async def test_5xx_bursts(kit: ProviderKit, clock: ManualClock, burst: int, recovers: bool) -> None:
    async with adapter(kit, clock, Faults(server_errors=burst)) as (provider, state, _):
        ids = kit.populate(state, 2)
        if recovers:
            pages = await collect(provider)
            assert sum(len(p) for p in pages) == len(ids)
        else:
            with pytest.raises(ProviderUnavailable) as info:
                await collect(provider)
            assert info.value.status_code == 503


@pytest.mark.parametrize(("burst", "recovers"), [(1, True), (50, False)])
async def test_truncated_bodies(
    kit: ProviderKit, clock: ManualClock, burst: int, recovers: bool
) -> None:
    async with adapter(kit, clock, Faults(truncated=burst)) as (provider, state, _):
        ids = kit.populate(state, 2)
        if recovers:
            pages = await collect(provider)
            assert sum(len(p) for p in pages) == len(ids)
        else:
            with pytest.raises(ProviderUnavailable, match="not valid JSON"):
                await collect(provider)


async def test_latency_past_the_deadline_times_out(kit: ProviderKit, clock: ManualClock) -> None:
    http = HttpSettings(deadline=0.05, attempts=2)
    async with adapter(kit, clock, Faults(latency=5.0), http=http) as (provider, state, _):
        kit.populate(state, 1)
        with pytest.raises(ProviderUnavailable, match=r"timed out after 0\.05s"):
            await collect(provider)


async def test_added_latency_within_the_deadline_is_fine(
    kit: ProviderKit, clock: ManualClock
) -> None:
    async with adapter(kit, clock, Faults(latency=0.01)) as (provider, state, _):
        ids = kit.populate(state, 1)
        pages = await collect(provider)
    assert sum(len(p) for p in pages) == len(ids)


async def test_malformed_records_fail_alone_naming_the_field(
    kit: ProviderKit, clock: ManualClock
) -> None:
    faults = Faults()
    async with adapter(kit, clock, faults) as (provider, state, _):
        ids = kit.populate(state, len(kit.malformations) + 1)
        faults.malformed = dict(zip(ids, kit.malformations, strict=False))
        pages = await collect(provider)
    outcomes: dict[str, str] = {}
    errors: list[NormalizationError] = []
    for raw in (r for page in pages for r in page):
        try:
            campaign = provider.dialect.normalize(raw, observed_at=clock.now())
        except NormalizationError as exc:
            errors.append(exc)
            outcomes[exc.field] = "rejected"
        else:
            outcomes[campaign.campaign_id] = campaign.status.value
    for error in errors:  # every error names its field first: "field=value: reason"
        assert error.field
        assert str(error).startswith(f"{error.field}=")
    healthy = ids[len(kit.malformations)]
    assert outcomes[healthy] != Status.UNKNOWN.value
    assert len(outcomes) == len(ids)
    if "unknown_status" in kit.malformations:
        assert Status.UNKNOWN.value in outcomes.values()


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [("x-sim-fault", "429", 429), ("x-sim-fault", "500", 500), ("x-sim-fault", "503", 503)],
)
async def test_request_level_fault_headers(
    kit: ProviderKit, clock: ManualClock, header: str, value: str, status: int
) -> None:
    app, _ = kit.build(clock, Faults(retry_after=4), 1)
    async with sim_client(app) as client:
        response = await client.get("/any/path", headers={header: value})
    assert response.status_code == status
    if status == 429:
        assert response.headers["retry-after"] == "4"


async def test_request_level_truncation_cuts_a_json_body(
    kit: ProviderKit, clock: ManualClock
) -> None:
    app, _ = kit.build(clock, Faults(), 1)
    async with sim_client(app) as client:
        whole = await client.get("/_sim/faults")
        cut = await client.get("/does-not-exist", headers={"x-sim-fault": "truncate"})
        plain = await client.get("/does-not-exist")
    assert whole.status_code == 200  # admin routes are never faulted
    assert len(cut.content) == len(plain.content) // 2


async def test_request_level_latency_header_delays_the_answer(
    kit: ProviderKit, clock: ManualClock
) -> None:
    app, _ = kit.build(clock, Faults(), 1)
    async with sim_client(app) as client:
        started = time.monotonic()
        await client.get("/any/path", headers={"x-sim-latency": "0.05"})
        elapsed = time.monotonic() - started
    assert elapsed >= 0.05  # a lower bound only: it can never answer sooner
