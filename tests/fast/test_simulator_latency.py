"""The simulators' latency knob: every provider request waits, side by side, never the admin routes.

The wait is injected (``Faults.sleep``), so nothing here waits on a clock: a
recording sleep counts the delays, a gated one proves requests wait concurrently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from starlette.types import ASGIApp

from bench.fleet import (
    KEYS,
    NOW,
    SARVAM_ORG,
    SARVAM_WORKSPACE,
    VOXO_EMAIL,
    VOXO_PASSWORD,
    sarvam_fleet,
    vox_fleet,
    voxo_fleet,
)
from worker.clock import ManualClock
from worker.simulators import sarvam, vox_v2, vox_v3, voxo
from worker.simulators.faults import Faults

SARVAM_LIST = f"/v1/orgs/{SARVAM_ORG}/workspaces/{SARVAM_WORKSPACE}/campaigns"


def _vox_v3(faults: Faults) -> tuple[ASGIApp, Callable[[httpx.AsyncClient], Any]]:
    app = vox_v3.create_app(
        vox_fleet(ManualClock(NOW), 3, 1), api_key=KEYS["vox_v3"], faults=faults
    )
    auth = {"Authorization": f"Bearer {KEYS['vox_v3']}"}
    return app, lambda client: client.get("/v3/campaigns", headers=auth)


def _vox_v2(faults: Faults) -> tuple[ASGIApp, Callable[[httpx.AsyncClient], Any]]:
    app = vox_v2.create_app(
        vox_fleet(ManualClock(NOW), 3, 1), api_key=KEYS["vox_v2"], faults=faults
    )
    auth = {"Authorization": f"Bearer {KEYS['vox_v2']}"}
    return app, lambda client: client.post("/v2/campaigns/list", json={}, headers=auth)


def _voxo(faults: Faults) -> tuple[ASGIApp, Callable[[httpx.AsyncClient], Any]]:
    app = voxo.create_app(voxo_fleet(ManualClock(NOW), 3, 1), faults=faults)
    login = {"strategy": "local", "email": VOXO_EMAIL, "password": VOXO_PASSWORD}
    return app, lambda client: client.post("/authentication", json=login)


def _sarvam(faults: Faults) -> tuple[ASGIApp, Callable[[httpx.AsyncClient], Any]]:
    engine = sarvam_fleet(ManualClock(NOW), 3, 1)
    app = sarvam.create_app(
        engine, api_key=KEYS["sarvam"], org_id=SARVAM_ORG, workspace_id=SARVAM_WORKSPACE,
        faults=faults,
    )  # fmt: skip
    headers = {"X-API-Key": KEYS["sarvam"]}
    return app, lambda client: client.get(SARVAM_LIST, headers=headers)


SIMULATORS = {"vox_v3": _vox_v3, "vox_v2": _vox_v2, "voxo": _voxo, "sarvam": _sarvam}


class Recorder:
    """A sleep that returns at once and remembers each delay asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test")


@pytest.mark.parametrize("provider", SIMULATORS)
async def test_every_provider_request_waits_the_latency_once(provider: str) -> None:
    sleep = Recorder()
    app, request = SIMULATORS[provider](Faults(latency=0.1, sleep=sleep))
    async with _client(app) as client:
        for _ in range(3):
            assert (await request(client)).is_success
    assert sleep.delays == [0.1, 0.1, 0.1]


@pytest.mark.parametrize("provider", SIMULATORS)
async def test_no_latency_by_default(provider: str) -> None:
    sleep = Recorder()
    app, request = SIMULATORS[provider](Faults(sleep=sleep))
    async with _client(app) as client:
        assert (await request(client)).is_success
    assert sleep.delays == []


async def test_the_latency_is_set_at_run_time_and_admin_routes_never_wait() -> None:
    sleep = Recorder()
    app, request = _vox_v3(Faults(sleep=sleep))
    async with _client(app) as client:
        answer = await client.put("/_sim/faults", json={"latency": 0.1})
        assert answer.status_code == 200
        assert answer.json()["latency"] == 0.1
        assert "sleep" not in answer.json()  # how it waits is not a knob
        assert (await client.put("/_sim/faults", json={"sleep": 1})).status_code == 400
        assert (await client.get("/_sim/faults")).status_code == 200
        assert sleep.delays == []
        await request(client)
        assert sleep.delays == [0.1]
        await client.put("/_sim/faults", json={"latency": 0})
        await request(client)
    assert sleep.delays == [0.1]


async def test_requests_in_flight_wait_side_by_side() -> None:
    """Three requests are all waiting at once: the delay does not serialize them."""
    waiting, everyone_in, release = 0, anyio.Event(), anyio.Event()

    async def gated(seconds: float) -> None:
        nonlocal waiting
        waiting += 1
        if waiting == 3:
            everyone_in.set()
        await release.wait()

    app, request = _sarvam(Faults(latency=0.1, sleep=gated))
    statuses: list[int] = []

    async def one(client: httpx.AsyncClient) -> None:
        statuses.append((await request(client)).status_code)

    async with _client(app) as client:
        with anyio.fail_after(5):  # a serialized delay would never let the third in
            async with anyio.create_task_group() as group:
                for _ in range(3):
                    group.start_soon(one, client)
                await everyone_in.wait()
                assert statuses == []  # all three are still waiting
                release.set()
    assert statuses == [200, 200, 200]
