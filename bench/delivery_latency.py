"""Commit-to-receive latency of the three subscription channels while a sync cycle writes.

Usage: ``python bench/delivery_latency.py [--probes 200] [--fleet 2000]``.

A vox v3 simulator with ``--fleet`` campaigns is synced cycle after cycle in the
background (every cycle changes every campaign: a page transaction open most of
the time, the load the gap-free rule waits behind). Meanwhile a probe target
commits one event every 50 ms and notes when each commit returned. Three
subscribers, each narrowed to the probe target, note when each probe arrives:

* a live Python subscriber (``worker.subscribe``);
* a webhook receiver on loopback (the sink runs in this process);
* a NATS JetStream consumer behind the relay (when a server answers on
  127.0.0.1:4222; otherwise that row says so).

It prints p50 and p99 per channel in milliseconds. The embedded PostgreSQL is
used unless ``CAMPAIGN_SYNC_BENCH_DATABASE_URL`` is set.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import logging
import os
import socket
import statistics
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import httpx
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response

from worker import subscribe
from worker.clock import ManualClock, SystemClock
from worker.config import NatsSettings, Settings, VoxV3Target, WebhookSettings
from worker.delivery.nats import NatsRelay
from worker.domain.campaign import Campaign, Status, TargetKey
from worker.domain.diff import diff
from worker.ports import RunSummary
from worker.runtime.app import open_runtime
from worker.runtime.http_server import serve
from worker.simulators.vox_engine import VoxCampaign, VoxEngine
from worker.simulators.vox_v3 import create_app
from worker.storage import migrate
from worker.storage.consumers import PostgresConsumers
from worker.storage.embedded import EmbeddedPostgres
from worker.storage.engine import create_engine
from worker.storage.feed import EventFeed
from worker.storage.postgres import PostgresStore

PROBE = TargetKey(provider="probe", account="bench")
KEY = "bench-latency-key"


def nats_up() -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", 4222)) == 0


def quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return "no samples"
    cuts = statistics.quantiles(values, n=100)
    return f"p50 {cuts[49]:7.1f} ms   p99 {cuts[98]:7.1f} ms   ({len(values)} events)"


async def load(engine: object, clock: ManualClock, fleet: int, stop: anyio.Event) -> int:
    vox = VoxEngine(clock, seed=3, dispatch_delay=timedelta(0))
    created = clock.now() - timedelta(hours=1)
    for _ in range(fleet):
        vox.add(
            VoxCampaign(
                id=vox.next_id(),
                name="load",
                created_at=created,
                total_calls=10**6,
                concurrency=20,
                seconds_per_call=3.0,
            )
        )
    target = VoxV3Target(account="load", base_url="http://load.test", api_key=SecretStr(KEY))
    transports = {target.name: httpx.ASGITransport(app=create_app(vox, api_key=KEY))}
    cycles = 0
    async with open_runtime(
        Settings(targets=(target,)),
        clock=clock,
        engine=engine,
        transports=transports,  # type: ignore[arg-type]
    ) as rt:
        while not stop.is_set():
            clock.advance(timedelta(minutes=1))
            await rt.sync_target(target.name)
            cycles += 1
    return cycles


async def main(probes: int, fleet: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    committed: dict[str, float] = {}
    received: dict[str, dict[str, float]] = {"python": {}, "webhook": {}, "nats": {}}
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = os.environ.get("CAMPAIGN_SYNC_BENCH_DATABASE_URL")
        if url is None:
            url = (await stack.enter_async_context(EmbeddedPostgres(tmp / "pgdata"))).url
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        await migrate.upgrade(engine)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        store = PostgresStore(engine)

        secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()

        async def hooks(request: Request) -> Response:
            received["webhook"][request.headers["webhook-id"]] = time.perf_counter()
            return Response(status_code=204)

        from starlette.applications import Starlette
        from starlette.routing import Route

        receiver = await stack.enter_async_context(
            serve(Starlette(routes=[Route("/hooks", hooks, methods=["POST"])]))
        )
        sink = WebhookSettings(
            name="bench", url=receiver + "/hooks", secret=SecretStr(secret), providers=("probe",)
        )
        runtime = await stack.enter_async_context(
            open_runtime(Settings(webhooks=(sink,)), engine=engine)
        )
        stop = anyio.Event()
        stream = f"BENCH_{uuid.uuid4().hex[:8]}"
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        async with anyio.create_task_group() as tg:
            clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
            tg.start_soon(load, engine, clock, fleet, stop)
            for task in runtime.deliveries():
                tg.start_soon(task)

            async def python() -> None:
                async with subscribe(dsn, consumer="bench", providers=["probe"]) as events:
                    async for event in events:
                        received["python"][event["id"]] = time.perf_counter()
                        await event.ack()

            tg.start_soon(python)
            if nats_up():
                import nats

                settings = NatsSettings(stream=stream, subject_prefix=prefix)
                relay = NatsRelay(
                    PostgresConsumers(engine),
                    lambda after: EventFeed(engine, after=after),
                    settings,
                    owner="bench",
                    clock=SystemClock(),
                )
                started = anyio.Event()
                tg.start_soon(lambda: relay.run(started=started))
                await started.wait()
                client = await nats.connect("nats://127.0.0.1:4222")
                js = client.jetstream()

                async def on_message(msg: object) -> None:
                    received["nats"][msg.headers["Nats-Msg-Id"]] = time.perf_counter()  # type: ignore[attr-defined]
                    await msg.ack()  # type: ignore[attr-defined]

                await js.subscribe(f"{prefix}.probe.>", cb=on_message, stream=stream)
            lease = await store.claim(PROBE, owner="probe", lease_clock=SystemClock(), ttl=600,
                                      interval=60, clock=SystemClock(), force=True)  # fmt: skip
            at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
            for i in range(probes):
                at += timedelta(seconds=1)
                version = Campaign(
                    provider="probe",
                    account="bench",
                    campaign_id="p",
                    name=None,
                    status=Status.RUNNING,
                    status_raw="ongoing",
                    raw={"n": i},
                )
                stored = await store.load(PROBE, ["p"])
                change = diff(stored.get("p"), version, at)
                assert change is not None
                async with store.page(lease, SystemClock().now()) as writer:  # type: ignore[arg-type]
                    await writer.write([change], [], records=1)
                committed[change.events[0].event_id] = time.perf_counter()
                await anyio.sleep(0.05)
            channels = [name for name in received if name != "nats" or nats_up()]
            with anyio.move_on_after(30):  # what has not arrived by then is reported missing
                # A bench polling its own counters; the receivers have no event to share.
                while any(len(received[name]) < probes for name in channels):  # noqa: ASYNC110
                    await anyio.sleep(0.1)
            await store.finish(lease, SystemClock().now(), RunSummary(status="succeeded"))  # type: ignore[arg-type]
            stop.set()
            tg.cancel_scope.cancel()
        with contextlib.suppress(Exception):
            await client.jetstream().delete_stream(stream)  # type: ignore[possibly-undefined]
    print(
        f"delivery latency, commit to receive, {probes} probes, load: {fleet} campaigns per cycle"
    )
    for name, times in received.items():
        lat = [(times[e] - committed[e]) * 1000 for e in committed if e in times]
        print(f"  {name:<8} {quantiles(lat) if lat else 'not measured (no nats-server on :4222)'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--fleet", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.probes, args.fleet))
