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
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, time
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import anyio
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from worker.clock import AcceleratedClock
from worker.config import (
    SarvamTarget,
    Settings,
    Target,
    VoxoTarget,
    VoxV2Target,
    VoxV3Target,
    WebhookSettings,
)
from worker.delivery.webhook import sign, signing_key
from worker.domain.events import ChangeEvent, EventKind
from worker.errors import ConfigError
from worker.ports import Clock
from worker.runtime.app import Runtime, open_runtime
from worker.runtime.http_server import serve
from worker.runtime.scheduler import SyncScheduler
from worker.simulators import sarvam, vox_v2, vox_v3, voxo
from worker.storage import migrate
from worker.storage.embedded import EmbeddedPostgres, default_data_dir, psql_path
from worker.storage.engine import create_engine, fresh_database, psql_display_url
from worker.storage.feed import EventFeed

__all__ = [
    "DemoOptions",
    "Simulated",
    "demo_simulators",
    "demo_start",
    "run_demo",
    "serve_simulator",
]

DEMO_DATABASE = "campaign_sync_demo"
SECONDS_PER_DAY = 86_400


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


@dataclass(frozen=True, slots=True)
class Simulated:
    """One provider's demo simulator: how to build it on a clock, and the target that reaches it."""

    name: str
    build: Callable[..., Any]
    target: Callable[[str], Target]


def demo_simulators() -> list[Simulated]:
    """Every provider's demo simulator and the target settings that reach it."""
    return [
        Simulated(
            "vox_v3",
            vox_v3.demo_app,
            lambda url: VoxV3Target(
                account="demo", base_url=url, api_key=SecretStr(vox_v3.DEMO_API_KEY)
            ),
        ),
        Simulated(
            "vox_v2",
            vox_v2.demo_app,
            lambda url: VoxV2Target(
                account="demo", base_url=url, api_key=SecretStr(vox_v2.DEMO_API_KEY)
            ),
        ),
        Simulated(
            "voxo",
            voxo.demo_app,
            lambda url: VoxoTarget(
                account="demo",
                base_url=url,
                email=voxo.DEMO_EMAIL,
                password=SecretStr(voxo.DEMO_PASSWORD),
                tenant_id=voxo.DEMO_TENANT_ID,
            ),
        ),
        Simulated(
            "sarvam",
            sarvam.demo_app,
            lambda url: SarvamTarget(
                account="demo",
                base_url=url + sarvam.BASE_PATH,
                api_key=SecretStr(sarvam.DEMO_API_KEY),
                org_id=sarvam.DEMO_ORG_ID,
                workspace_id=sarvam.DEMO_WORKSPACE_ID,
            ),
        ),
    ]


def demo_start(now: datetime) -> datetime:
    """Simulated start: today at 02:50 UTC (11:50 in Seoul, just before a window closes)."""
    return datetime.combine(now.astimezone(UTC).date(), time(2, 50), UTC)


def describe(event: ChangeEvent) -> str:
    """One human line per event: simulated time, type, campaign and what changed."""
    data = event.data
    details = {
        "discovered": lambda: f"{data['campaign']['name']!r} status={data['campaign']['status']}",
        "status_changed": lambda: (
            f"{data['before']['status']} -> {data['after']['status']}"
            f" (provider: {data['after']['status_raw']})"
        ),
        "paused": lambda: (
            f"paused_by={data['paused_by']}" + (" (inferred)" if data["inferred"] else "")
        ),
        "resumed": lambda: f"was paused_by={data['paused_by']}, now {data['status_raw']}",
        "finished": lambda: f"outcome={data['outcome']}",
        "progress": lambda: _progress(data["after"]),
        "updated": lambda: "changed " + ", ".join(sorted(data["changes"]) or data["raw_changed"]),
        "vanished": lambda: f"gone from the listing (was {data['status']})",
        "reappeared": lambda: f"listed again, status={data['campaign']['status']}",
    }.get(event.kind.value, lambda: "")()
    source = f"{event.key.provider}/{event.key.account}"
    when = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    campaign = f"#{event.key.campaign_id}"
    return f"{when:<24} {event.type:<24} {source:<14} {campaign:<13} {details}"


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


def _progress(after: dict[str, Any]) -> str:
    if after.get("total_calls") is not None:
        ok, failed, total = after["completed_calls"], after["failed_calls"], after["total_calls"]
        return f"{ok} ok + {failed} failed of {total}"
    return f"last run {after.get('last_run_at')}"


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


def simulator_target_yaml(target: Target) -> str:
    """A config target that reaches a simulator, and its demo credentials in the clear.

    The simulators' credentials are public (they open nothing but the simulator), so
    they are printed; the snippet still references them from the environment, as a
    real target's secrets are.
    """
    fields = target.model_dump(mode="json", exclude={"http", "limits"}, exclude_defaults=True)
    fields = {"provider": target.provider, **fields}
    exports = []
    for name in fields:
        value = getattr(target, name)
        if isinstance(value, SecretStr):
            variable = f"{target.provider}_DEMO_{name}".upper()
            fields[name] = {"env": variable}
            exports.append(f"export {variable}={value.get_secret_value()}")
    lines = [
        "demo credentials (public: they open this simulator only):",
        *(f"  {line}" for line in exports),
        "a target that reaches it (put it under `targets:`):",
        "  - " + "\n    ".join(f"{k}: {json.dumps(v)}" for k, v in fields.items()),
    ]
    return "\n".join(lines)


async def serve_simulator(provider: str, *, port: int, day_seconds: float, seed: int) -> None:
    """Serve one provider's demo simulator on loopback until Ctrl-C (``campaign-sync simulate``)."""
    simulators = {sim.name: sim for sim in demo_simulators()}
    if provider not in simulators:
        raise ConfigError(
            f"no simulator named {provider!r}; known: {', '.join(sorted(simulators))}"
        )
    sim = simulators[provider]
    clock = AcceleratedClock(demo_start(datetime.now(UTC)), SECONDS_PER_DAY / day_seconds)
    app, _state = sim.build(clock, seed=seed)
    async with serve(app, port=port) as url:
        print(f"{provider} simulator on {url} (simulated day = {day_seconds:g}s)", flush=True)
        print(simulator_target_yaml(sim.target(url)), flush=True)
        print("fault knobs: GET/PUT /_sim/faults; Ctrl-C to stop", flush=True)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                return
