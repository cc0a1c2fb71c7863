"""Network faults between the worker and a provider, through a TCP fault proxy on loopback.

Each fault hits one target; a second target on the same provider, not behind the
proxy, must not notice. Every wait is bounded by the target's ``http`` settings,
nothing half-written is stored, and once the fault clears the next cycle
recovers the whole fleet.
"""

from __future__ import annotations

import time

import anyio
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import assert_quiet_cycle
from tests.reliability.fault_proxy import Fault, fault_proxy
from tests.reliability.invariants import check_invariants
from worker.clock import ManualClock
from worker.config import HttpSettings, Settings, VoxV3Target
from worker.runtime.app import open_runtime
from worker.runtime.http_server import serve
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app

pytestmark = pytest.mark.storage

# A second per request, two tries, no backoff: each fault costs seconds, not minutes.
HTTP = HttpSettings(deadline=1.0, attempts=2, wait_initial=0.0, wait_max=0.0, retry_timeout=5.0)

# fault, connections it hits (None: all), the faulty target's outcome, the error's words
FAULTS = {
    "hung connect": (Fault.HANG_CONNECT, None, "failed", "timed out"),
    "byte drip": (Fault.DRIP, None, "failed", "timed out after 1s"),
    "reset mid-response": (Fault.RESET, None, "failed", "failed: "),
    "half-open connection": (Fault.HALF_OPEN, None, "failed", "timed out after 1s"),
    "latency spike": (Fault.LATENCY, None, "succeeded", None),
    "burst of refused connections": (Fault.REFUSE, 1, "succeeded", None),
}


def target(account: str, base_url: str) -> VoxV3Target:
    return VoxV3Target(
        account=account, base_url=base_url, api_key=SecretStr(DEMO_API_KEY), http=HTTP
    )


@pytest.mark.parametrize("case", FAULTS)
async def test_a_network_fault_costs_its_target_alone_and_clears(
    engine: AsyncEngine, clock: ManualClock, case: str
) -> None:
    fault, times, outcome, words = FAULTS[case]
    app, _ = demo_app(clock, seed=3)
    async with serve(app) as sim, fault_proxy(sim) as proxy:
        proxy.latency_seconds = 0.3  # under the 1 s deadline: slower, not failed
        faulty, healthy = target("faulty", proxy.url), target("healthy", sim)
        settings = Settings(targets=(faulty, healthy))
        async with open_runtime(settings, clock=clock, engine=engine) as rt:
            proxy.set(fault, times=times)
            began = time.monotonic()
            with anyio.fail_after(30):  # bounded: deadline × attempts, plus the write
                results = await rt.sync_all()
            took = time.monotonic() - began
            assert results[healthy.name].status == "succeeded"
            hit = results[faulty.name]
            assert hit.status == outcome, hit.error
            if words is not None:
                assert words in (hit.error or "")
                assert hit.changed == 0  # a failed first page stores nothing
            assert took < 2 * HTTP.deadline * HTTP.attempts + 5
            assert proxy.met(fault), "the fault was never met"

            proxy.set(Fault.PASS)
            recovered = await rt.sync_target(faulty.name)
            assert recovered.status == "succeeded", recovered.error
            await assert_quiet_cycle(rt, engine, faulty.name)
            await assert_quiet_cycle(rt, engine, healthy.name)
    await check_invariants(engine)
