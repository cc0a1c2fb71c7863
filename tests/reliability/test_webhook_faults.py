"""Network faults between the webhook sender and a receiver, through the TCP fault proxy.

The faulty sink's receiver sits behind the proxy; a second sink posts straight to a
receiver of its own and must not notice. Each attempt is bounded by the sink's
``timeout``; a failed attempt is kept and retried on the schedule; once the fault
clears, every event reaches the receiver, each id first arriving in campaign order.
A sender that lost the answer to a POST the receiver did take sends it again (at
least once): the receiver deduplicates by ``webhook-id``.
"""

from __future__ import annotations

import time
from datetime import timedelta

import anyio
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.delivery.receiver import SECRET, Receiver
from tests.reliability.fault_proxy import Fault, fault_proxy
from tests.reliability.invariants import check_invariants, first_arrivals
from worker.clock import ManualClock
from worker.config import Settings, VoxV3Target, WebhookSettings
from worker.delivery.webhook import RETRY_SCHEDULE, WebhookSink
from worker.runtime.app import Runtime, open_runtime
from worker.runtime.http_server import serve
from worker.simulators.vox_v3 import DEMO_API_KEY, demo_app
from worker.storage.webhooks import PostgresWebhooks

pytestmark = pytest.mark.storage

TIMEOUT = 2.0  # seconds per attempt: each fault costs seconds, not minutes

# fault, connections it hits (None: all), whether the first round delivers everything,
# how the failed attempts' errors begin
FAULTS = {
    "hung connect": (Fault.HANG_CONNECT, None, False, "timed out after 2 s"),
    "byte drip": (Fault.DRIP, None, False, "timed out after 2 s"),
    "reset mid-response": (Fault.RESET, None, False, ("failed: ", "timed out")),
    "half-open connection": (Fault.HALF_OPEN, None, False, "timed out after 2 s"),
    "latency spike": (Fault.LATENCY, None, True, None),
    "burst of refused connections": (Fault.REFUSE, 1, False, "failed: "),
}


def sink(name: str, url: str) -> WebhookSettings:
    return WebhookSettings(name=name, url=f"{url}/hooks", secret=SecretStr(SECRET), timeout=TIMEOUT)


async def deliveries(engine: AsyncEngine, sink: str) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE status = 'delivered'),"
                " count(*) FILTER (WHERE attempts > 1), max(attempts)"
                " FROM webhook_deliveries WHERE sink = :sink"
            ),
            {"sink": sink},
        )
        delivered, retried, most = rows.one()
    return {"delivered": delivered, "retried": retried, "most_attempts": most}


async def errors(engine: AsyncEngine, sink: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT last_error FROM webhook_deliveries WHERE sink = :s AND attempts > 0"),
            {"s": sink},
        )
        return [e for (e,) in rows if e]


async def events_written(rt: Runtime, clock: ManualClock) -> int:
    """Discover the demo fleet, then let it move: several versions per campaign."""
    await rt.sync_all()
    clock.advance(timedelta(hours=6))
    await rt.sync_all()
    async with rt.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM campaign_events"))).scalar_one())


async def drain(
    engine: AsyncEngine, sinks: tuple[WebhookSink, ...], clock: ManualClock, rounds: int = 40
) -> None:
    """Rounds of every sink at once, the clock moved to the next retry between them."""
    store = PostgresWebhooks(engine)
    for _ in range(rounds):
        sent = 0

        async def one(s: WebhookSink) -> None:
            nonlocal sent
            sent += await s.send_due()

        with anyio.fail_after(3 * TIMEOUT + 10):  # a round: one attempt per campaign at once
            async with anyio.create_task_group() as group:
                for s in sinks:
                    group.start_soon(one, s)
        if not sent:
            clock.advance(timedelta(seconds=max(RETRY_SCHEDULE) * 1.2))  # any retry is due
            if not any([await store.backlog(s.name) for s in sinks]):
                return


@pytest.mark.parametrize("case", FAULTS)
async def test_a_fault_before_the_receiver_delays_its_sink_alone_and_loses_nothing(
    engine: AsyncEngine, clock: ManualClock, case: str
) -> None:
    fault, times, first_round_delivers, words = FAULTS[case]
    app, _ = demo_app(clock, seed=6)
    faulty_receiver, direct_receiver = Receiver(), Receiver()
    async with (
        serve(app) as provider,
        serve(faulty_receiver) as behind_proxy,
        serve(direct_receiver) as direct,
        fault_proxy(behind_proxy) as proxy,
    ):
        proxy.latency_seconds = 0.3  # an answer's few chunks stay under the timeout
        target = VoxV3Target(account="fleet", base_url=provider, api_key=SecretStr(DEMO_API_KEY))
        settings = Settings(
            targets=(target,), webhooks=(sink("faulty", proxy.url), sink("direct", direct))
        )
        async with open_runtime(settings, clock=clock, engine=engine) as rt:
            stored = await events_written(rt, clock)
            for s in rt.sinks:
                await s.register()
                assert await s.enqueue() == stored
            proxy.set(fault, times=times)
            began = time.monotonic()
            async with anyio.create_task_group() as group:  # the first round, both sinks
                for s in rt.sinks:
                    group.start_soon(s.send_due)
            took = time.monotonic() - began
            assert took < 2 * TIMEOUT + 5  # bounded by the attempt's timeout, not the fault
            assert proxy.met(fault), "the fault was never met"
            first = await deliveries(engine, "faulty")
            if not first_round_delivers:
                failed = await errors(engine, "faulty")
                assert failed and all(e.startswith(words) for e in failed), failed

            proxy.set(Fault.PASS)
            await drain(engine, rt.sinks, clock)

    assert await deliveries(engine, "direct") == {
        "delivered": stored,
        "retried": 0,  # the direct sink never noticed
        "most_attempts": 1,
    }
    final = await deliveries(engine, "faulty")
    assert final["delivered"] == stored
    if first_round_delivers:
        assert final["retried"] == 0 and first["most_attempts"] == 1
    else:
        assert final["retried"] >= 1
    await check_invariants(
        engine,
        subscribers={
            "direct": first_arrivals(direct_receiver.accepted, "vox_v3/fleet"),
            "faulty (first arrival of each id)": first_arrivals(
                faulty_receiver.accepted, "vox_v3/fleet"
            ),
        },
    )
    assert len(direct_receiver.accepted) == stored  # no fault, no copy
