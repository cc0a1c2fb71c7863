"""The composition root: the one place settings become connected, running parts.

Everything long-lived is an async context manager entered on one exit stack:
the database (embedded or configured), the engine, one HTTP client per target,
and the pipeline. Tests and the demo enter the same root with their own clock
and, for tests, in-process transports to the simulators.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
import httpx

from worker.clock import SystemClock
from worker.config import Settings, Target
from worker.delivery.nats import NatsRelay
from worker.delivery.webhook import WebhookSink
from worker.errors import StorageError
from worker.observability import loggers
from worker.observability.redaction import SecretValues
from worker.ports import Clock, Position, Provider, RunSummary
from worker.runtime.database import open_database, require_schema, worker_name
from worker.runtime.health import WriteHealth
from worker.runtime.targets import provider_for
from worker.storage.consumers import PostgresConsumers
from worker.storage.engine import Database
from worker.storage.feed import EventFeed
from worker.storage.lapsed import abandon_expired
from worker.storage.postgres import PostgresStore
from worker.storage.webhooks import PostgresWebhooks
from worker.sync.pipeline import CycleLimits, CyclePolicy, SyncPipeline
from worker.version import __version__

__all__ = ["Runtime", "nats_relay", "open_relay", "open_runtime"]

log = logging.getLogger(loggers.APP)


@dataclass(frozen=True, slots=True)
class Runtime:
    """The wired worker: storage, pipeline and one provider adapter per target."""

    settings: Settings
    engine: Database
    store: PostgresStore
    pipeline: SyncPipeline
    providers: Mapping[str, Provider]
    policies: Mapping[str, CyclePolicy]
    clock: Clock
    sinks: tuple[WebhookSink, ...] = ()
    relay: NatsRelay | None = None
    # Readiness: whether each target's last claim and run record reached the database.
    writes: WriteHealth = field(default_factory=WriteHealth)

    async def sync_target(
        self, name: str, *, force: bool = True, lease_wait: float = 0.0
    ) -> RunSummary:
        """One cycle of one target; its failure never reaches the caller as an exception.

        ``force`` runs even if this interval's cycle already ran (the scheduler
        passes False). While another worker holds the target's lease, the claim is
        retried for up to ``lease_wait`` seconds; then the summary is ``busy``.
        """
        provider = self.providers[name]
        deadline = time.monotonic() + lease_wait
        while True:
            try:
                summary = await self.pipeline.sync_once(provider, self.policies[name], force=force)
            except StorageError as exc:
                self.writes.failed(name, str(exc))
                log.error(
                    "sync of %s could not be recorded: %s",
                    name,
                    exc,
                    extra={"event": "sync.storage_failed", "target": name},
                )
                return RunSummary(status="failed", error=str(exc))
            except Exception as exc:
                # A bug, not bad input: the pipeline recorded it on the run; the
                # other targets still run, and the traceback goes to the log.
                log.exception(
                    "sync of %s crashed: %s",
                    name,
                    type(exc).__name__,
                    extra={"event": "sync.crashed", "target": name},
                )
                return RunSummary(status="failed", error=f"internal error: {type(exc).__name__}")
            self.writes.succeeded(name)  # claimed (or found busy, not due) and recorded
            left = deadline - time.monotonic()
            if summary.status != "busy" or left <= 0:
                return summary
            await anyio.sleep(min(1.0, left))

    def deliveries(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        """The long-running delivery loops to run beside the scheduler (``run``)."""
        loops = [sink.run for sink in self.sinks]
        if self.relay is not None:
            loops.append(self.relay.run)
        return loops

    async def sync_all(self) -> dict[str, RunSummary]:
        """One cycle of every target, concurrently; each target fails alone."""
        results: dict[str, RunSummary] = {}

        async def one(name: str) -> None:
            results[name] = await self.sync_target(name)

        async with anyio.create_task_group() as tg:
            for name in self.providers:
                tg.start_soon(one, name)
        return results


def nats_relay(settings: Settings, engine: Database, owner: str) -> NatsRelay:
    """The NATS relay of ``settings.nats`` on ``engine``."""
    assert settings.nats is not None
    nats = settings.nats
    return NatsRelay(
        PostgresConsumers(engine),
        lambda after: EventFeed(engine, after=after, batch_size=nats.batch_size),
        nats,
        owner=owner,
        clock=SystemClock(),
        lease_ttl=settings.lease_ttl,
    )


def _feed_after(
    engine: Database,
    types: Sequence[str] | None,
    providers: Sequence[str] | None,
    after: Position,
) -> EventFeed:
    return EventFeed(engine, after=after, types=types, providers=providers)


def _client(target: Target, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=target.base_url,
        transport=transport,
        timeout=httpx.Timeout(target.http.deadline),
        headers={"User-Agent": f"campaign-sync/{__version__}"},
        follow_redirects=False,
    )


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Database | None = None,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    lease_clock: Clock | None = None,
    owner: str | None = None,
    secrets: SecretValues | None = None,
) -> AsyncIterator[Runtime]:
    """Wire every part from ``settings``.

    Args:
        clock: observation time; defaults to the system clock.
        lease_clock: real time for leases and interval slots; defaults to the system clock.
        owner: this worker's lease-owner name; defaults to :func:`worker_name`.
        secrets: the process's secret values (shared with the log filter); by
            default the configured ones. Tokens learned at runtime join it.
        engine: an existing engine (tests); otherwise :func:`open_database` is entered.
        transports: per target name (``webhook:<name>`` for a webhook sink), an
            httpx transport to use instead of the network (tests mount simulators
            and receivers with ``httpx.ASGITransport``).
    """
    clock = clock or SystemClock()
    transports = transports or {}
    async with AsyncExitStack() as stack:
        if engine is None:
            engine = await stack.enter_async_context(open_database(settings))
        await require_schema(engine)
        secrets = secrets if secrets is not None else SecretValues(settings.secrets())
        store = PostgresStore(engine, secrets=secrets)
        providers: dict[str, Provider] = {}
        for target in settings.targets:
            client = await stack.enter_async_context(_client(target, transports.get(target.name)))
            providers[target.name] = provider_for(target, client, clock, secrets=secrets)
        owner = owner or worker_name()
        sinks = []
        for sink in settings.webhooks:
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=transports.get(f"webhook:{sink.name}"),
                    follow_redirects=False,  # a 3xx is a failed delivery, never followed
                    headers={"User-Agent": f"campaign-sync/{__version__}"},
                )
            )
            sinks.append(
                WebhookSink(
                    sink,
                    PostgresWebhooks(engine),
                    PostgresConsumers(engine),
                    partial(_feed_after, engine, sink.types, sink.providers),
                    client,
                    clock=clock,
                    owner=owner,
                )
            )
        pipeline = SyncPipeline(
            store,
            clock,
            owner=owner,
            lease_ttl=settings.lease_ttl,
            lease_clock=lease_clock,
            secrets=secrets,
        )
        await _close_lapsed_runs(engine, pipeline.lease_clock)
        yield Runtime(
            settings=settings,
            engine=engine,
            store=store,
            pipeline=pipeline,
            providers=providers,
            policies={
                t.name: CyclePolicy(
                    interval=t.poll_interval,
                    misses_to_vanish=t.vanish_after_misses,
                    detail_refresh=t.detail_refresh_interval,
                    limits=CycleLimits(**t.limits.model_dump()),
                )
                for t in settings.targets
            },
            clock=clock,
            sinks=tuple(sinks),
            relay=None if settings.nats is None else nats_relay(settings, engine, owner),
        )


async def _close_lapsed_runs(engine: Database, lease_clock: Clock) -> None:
    """Close the runs of workers that died with no replica left to take their targets
    over; a target this worker does not sync would otherwise keep them ``running``."""
    for target in await abandon_expired(engine, lease_clock.now()):
        log.info(
            "%s: closed a run whose lease expired as abandoned",
            target,
            extra={"event": "lease.runs_abandoned", "target": str(target)},
        )


@asynccontextmanager
async def open_relay(settings: Settings) -> AsyncIterator[NatsRelay]:
    """The NATS relay alone (``campaign-sync relay``), on the configured database."""
    async with open_database(settings) as engine:
        await require_schema(engine)
        yield nats_relay(settings, engine, worker_name())
