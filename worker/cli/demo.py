"""``campaign-sync demo``: the whole product on one laptop, no server to set up.

Starts the embedded PostgreSQL, serves every provider simulator (vox v3, vox v2,
VOXO, Sarvam) on loopback with
an accelerated clock (a simulated day in four minutes by default), syncs every
target every few seconds through the real pipeline, and prints each change
event as it lands in the outbox. Ctrl-C stops everything and leaves no process.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import signal
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TextIO

import anyio
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from worker.cli.describe import describe
from worker.cli.simulate import SECONDS_PER_DAY, demo_simulators, demo_start
from worker.clock import AcceleratedClock
from worker.config import (
    Settings,
    Target,
    WebhookSettings,
)
from worker.delivery.signing import sign, signing_key
from worker.domain.events import EventKind
from worker.ports import Clock
from worker.runtime.app import Runtime, open_runtime
from worker.runtime.heap import settle_heap
from worker.runtime.http_server import serve
from worker.runtime.scheduler import SyncScheduler
from worker.storage import migrate
from worker.storage.embedded import EmbeddedPostgres, default_data_dir, psql_path
from worker.storage.engine import create_engine, fresh_database, psql_display_url
from worker.storage.feed import EventFeed

__all__ = [
    "DemoOptions",
    "run_demo",
]

DEMO_DATABASE = "campaign_sync_demo"


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoOptions:
    """Knobs of the demo; the defaults show a system pause and its resume in the first minute."""

    day_seconds: float = 240.0  # real seconds per simulated day
    poll_seconds: float = 2.0  # real seconds between two syncs of a target
    seed: int = 1
    data_dir: Path | None = None
    duration: float | None = None  # stop after this many real seconds; None runs until Ctrl-C
    show_progress: bool = False  # progress events are frequent; stored always, printed on request
    webhook: bool = False  # also deliver every event to a local, signature-checking receiver

    @property
    def speed(self) -> float:
        """How many simulated seconds pass per real second."""
        return SECONDS_PER_DAY / self.day_seconds


class DemoReceiver:
    """A webhook endpoint on loopback that checks each signature and prints what it got."""

    def __init__(self, secret: str, out: TextIO) -> None:
        self._key = signing_key(secret)
        self._out = out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = (await request.body()).decode()
        headers = request.headers
        expected = sign(self._key, headers["webhook-id"], int(headers["webhook-timestamp"]), body)
        ok = hmac.compare_digest(expected, headers["webhook-signature"])
        event = json.loads(body)
        if event["type"] != "campaign.progress":
            verdict = "signature verified" if ok else "BAD SIGNATURE"
            source = event["source"].removeprefix("campaign-sync/")
            print(
                f"{'  webhook received':<24} {event['type']:<24} {source:<14} "
                f"#{event['subject']:<12} {verdict} (webhook-id {headers['webhook-id'][:8]}…)",
                file=self._out,
                flush=True,
            )
        await Response(status_code=204 if ok else 401)(scope, receive, send)


async def _print_events(runtime: Runtime, out: TextIO, *, show_progress: bool) -> None:
    async with EventFeed(runtime.engine, poll_interval=0.5) as feed:
        async for batch in feed.batches():
            for stored in batch:
                if show_progress or stored.event.kind is not EventKind.PROGRESS:
                    print(describe(stored.event), file=out, flush=True)


async def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> None:
    """Run the demo until Ctrl-C, SIGTERM or ``options.duration``."""
    clock: Clock = AcceleratedClock(demo_start(datetime.now(UTC)), options.speed)
    data_dir = options.data_dir or default_data_dir().with_name("demo-pgdata")
    async with AsyncExitStack() as stack:
        embedded = await stack.enter_async_context(EmbeddedPostgres(data_dir))
        url = await fresh_database(embedded.url, DEMO_DATABASE)
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        await migrate.upgrade(engine)
        targets = []
        for sim in demo_simulators():
            app, _state = sim.build(clock, seed=options.seed)
            base_url = await stack.enter_async_context(serve(app))
            # The lease schedule runs on the target's own interval (a copy skips the
            # 1-second floor of user settings, so --poll-seconds may go below it).
            target = sim.target(base_url)
            targets.append(target.model_copy(update={"poll_interval": options.poll_seconds}))
        webhooks: tuple[WebhookSettings, ...] = ()
        if options.webhook:
            secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
            receiver = await stack.enter_async_context(serve(DemoReceiver(secret, out)))
            webhooks = (
                WebhookSettings(name="demo", url=receiver + "/hooks", secret=SecretStr(secret)),
            )
        settings = Settings(targets=tuple(targets), webhooks=webhooks)
        runtime = await stack.enter_async_context(
            open_runtime(settings, clock=clock, engine=engine)
        )
        settle_heap()
        _banner(out, options, data_dir, url, targets)
        intervals = {t.name: t.poll_interval for t in settings.targets}
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(_print_events, runtime, out, show_progress=options.show_progress))
            for delivery in runtime.deliveries():
                tg.start_soon(delivery)
            tg.start_soon(_stop_on_signal, tg.cancel_scope, out)
            cycle = partial(runtime.sync_target, force=False)
            async with SyncScheduler(cycle, intervals, grace_seconds=5):
                if options.duration is None:
                    await anyio.sleep_forever()
                else:
                    await anyio.sleep(options.duration)
            tg.cancel_scope.cancel()
    print("demo stopped; the embedded database is shut down", file=out, flush=True)


async def _stop_on_signal(scope: anyio.CancelScope, out: TextIO) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            print(f"\n{signal.Signals(signum).name}: stopping...", file=out, flush=True)
            scope.cancel()
            return


def _banner(
    out: TextIO, options: DemoOptions, data_dir: Path, url: str, targets: list[Target]
) -> None:
    psql_url = psql_display_url(url)
    lines = [
        "campaign-sync demo",
        f"  simulated day = {options.day_seconds:g} real seconds ({options.speed:g}x); sync every "
        f"{options.poll_seconds:g}s",
        f"  embedded PostgreSQL data dir: {data_dir}",
        f"  query it while it runs:  {psql_path()} '{psql_url}'",
        *(f"  simulator {t.name}: {t.base_url}" for t in targets),
        "  progress events are stored but not printed; --show-progress prints them too"
        if not options.show_progress
        else "  printing every event, progress included",
        "  Ctrl-C to stop.",
        "",
        f"{'time (simulated, UTC)':<24} {'event':<24} {'target':<14} {'campaign':<13} details",
    ]
    print("\n".join(lines), file=out, flush=True)
