"""The composition root: the one place settings become connected, running parts.

Everything long-lived is an async context manager entered on one exit stack:
the database (embedded or configured), the engine, one HTTP client per target,
and the pipeline. Tests and the demo enter the same root with their own clock
and, for tests, in-process transports to the simulators.
"""

from __future__ import annotations

import logging
import os
import secrets as token_source
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from worker import __version__
from worker.clock import SystemClock
from worker.config import Settings, Target
from worker.delivery.nats import NatsRelay
from worker.delivery.subscribe import Subscription
from worker.delivery.webhook import WebhookSink
from worker.errors import ConfigError, StorageError
from worker.health import WriteHealth
from worker.pipeline import CyclePolicy, SyncPipeline
from worker.ports import Clock, Position, Provider, RunSummary
from worker.providers import PROVIDERS
from worker.redaction import SecretValues
from worker.storage import migrate
from worker.storage.consumers import PostgresConsumers
from worker.storage.embedded import EmbeddedPostgres, default_data_dir
from worker.storage.engine import create_engine, display_url
from worker.storage.feed import EventFeed
from worker.storage.lapsed import abandon_expired
from worker.storage.outbox import position_after_event, position_before_time
from worker.storage.postgres import PostgresStore
from worker.storage.webhooks import PostgresWebhooks

__all__ = [
    "Admin",
    "Runtime",
    "nats_relay",
    "open_admin",
    "open_database",
    "open_relay",
    "open_runtime",
    "subscribe",
    "worker_name",
]

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_database(
    settings: Settings, *, migrate_embedded: bool = True
) -> AsyncIterator[AsyncEngine]:
    """An engine on the configured server, or on the embedded one when none is set.

    The embedded database is migrated on start (it belongs to this process);
    a configured server is migrated only by ``campaign-sync migrate``.
    """
    async with AsyncExitStack() as stack:
        if settings.database_url is not None:
            url = settings.database_url.get_secret_value()
            log.info("using PostgreSQL at %s", display_url(url), extra={"event": "db.configured"})
        else:
            data_dir: Path = settings.data_dir or default_data_dir()
            embedded = await stack.enter_async_context(EmbeddedPostgres(data_dir))
            url = embedded.url
        engine = create_engine(
            url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        stack.push_async_callback(engine.dispose)
        if settings.database_url is None and migrate_embedded:
            await migrate.upgrade(engine)
        yield engine


async def require_schema(engine: AsyncEngine) -> None:
    """Fail fast, with the fix, when the database is not at the newest migration."""
    current, head = await migrate.current_revision(engine), migrate.head_revision()
    if current != head:
        raise StorageError(
            f"database schema is at revision {current or 'none'}, this worker needs {head}; "
            "run `campaign-sync migrate` first"
        )


def worker_name() -> str:
    """This process's name as a lease owner: host (the pod's name), pid and a random tag."""
    return f"{socket.gethostname()}/{os.getpid()}/{token_source.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class Runtime:
    """The wired worker: storage, pipeline and one provider adapter per target."""

    settings: Settings
    engine: AsyncEngine
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


def nats_relay(settings: Settings, engine: AsyncEngine, owner: str) -> NatsRelay:
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
    engine: AsyncEngine,
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
    engine: AsyncEngine | None = None,
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
            providers[target.name] = PROVIDERS[target.provider].from_settings(
                target, client, clock, secrets=secrets
            )
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
                    limits=t.limits,
                )
                for t in settings.targets
            },
            clock=clock,
            sinks=tuple(sinks),
            relay=None if settings.nats is None else nats_relay(settings, engine, owner),
        )


async def _close_lapsed_runs(engine: AsyncEngine, lease_clock: Clock) -> None:
    """Close the runs of workers that died with no replica left to take their targets
    over; a target this worker does not sync would otherwise keep them ``running``."""
    for target in await abandon_expired(engine, lease_clock.now()):
        log.info(
            "%s: closed a run whose lease expired as abandoned",
            target,
            extra={"event": "lease.runs_abandoned", "target": str(target)},
        )


@asynccontextmanager
async def subscribe(
    dsn: str,
    *,
    consumer: str,
    types: Sequence[str] | None = None,
    providers: Sequence[str] | None = None,
    poll_interval: float = 1.0,
    lease_ttl: float = 30.0,
    clock: Clock | None = None,
) -> AsyncIterator[Subscription]:
    """Subscribe to the change events as the durable consumer ``consumer``.

    Args:
        dsn: the worker's PostgreSQL URL (``postgresql://…``).
        types: CloudEvents types to receive (e.g. ``["campaign.paused"]``); all by default.
        providers: providers to receive from (e.g. ``["vox_v3"]``); all by default.
        poll_interval: seconds between reads when no NOTIFY arrives (the fallback).
        lease_ttl: seconds another process waits after this one dies before taking over.

    Raises:
        ConfigError: the URL is not a PostgreSQL URL.
        StorageError: the database cannot be used (or its schema is not current).
    """
    engine = create_engine(dsn)
    try:
        await require_schema(engine)

        def open_feed(after: Position) -> EventFeed:
            return EventFeed(
                engine,
                after=after,
                poll_interval=poll_interval,
                types=types,
                providers=providers,
            )

        async with Subscription(
            PostgresConsumers(engine),
            open_feed,
            name=consumer,
            owner=worker_name(),
            clock=clock or SystemClock(),
            types=types,
            providers=providers,
            lease_ttl=lease_ttl,
            standby_poll=poll_interval,
        ) as subscription:
            yield subscription
    finally:
        # Shielded: a caller that stops the subscription with a cancel scope still has its
        # connections closed, rather than each interrupted close logged as an error.
        with anyio.CancelScope(shield=True):
            await engine.dispose()


@dataclass(frozen=True, slots=True)
class Admin:
    """What the ``events`` commands need: the outbox, consumers and webhook state."""

    engine: AsyncEngine
    consumers: PostgresConsumers
    webhooks: PostgresWebhooks

    def feed(
        self,
        after: Position,
        *,
        types: Sequence[str] | None = None,
        providers: Sequence[str] | None = None,
        poll_interval: float = 1.0,
    ) -> EventFeed:
        """The gap-free feed after ``after``."""
        return EventFeed(
            self.engine, after=after, types=types, providers=providers, poll_interval=poll_interval
        )

    async def position(self, since: str) -> Position:
        """Where ``--since``/``--from`` starts: before an event id, or before a time.

        Raises:
            ConfigError: neither an event id that exists nor an ISO-8601 time.
        """
        async with self.engine.connect() as conn:
            if since.isdigit():
                found = await position_after_event(conn, int(since))
                if found is None:
                    raise ConfigError(f"no event with id {since} (see campaign_events.id)")
                return Position(xid=found.xid, id=found.id - 1)
            try:
                when = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                raise ConfigError(
                    f"--since/--from {since!r} is neither an event id nor an ISO-8601 time"
                ) from None
            if when.utcoffset() is None:
                raise ConfigError(f"--since/--from {since!r} needs a UTC offset (e.g. Z)")
            return await position_before_time(conn, when)


@asynccontextmanager
async def open_admin(settings: Settings) -> AsyncIterator[Admin]:
    """The database parts of the ``events`` commands (the schema must be current)."""
    async with open_database(settings) as engine:
        await require_schema(engine)
        yield Admin(engine, PostgresConsumers(engine), PostgresWebhooks(engine))


@asynccontextmanager
async def open_relay(settings: Settings) -> AsyncIterator[NatsRelay]:
    """The NATS relay alone (``campaign-sync relay``), on the configured database."""
    async with open_database(settings) as engine:
        await require_schema(engine)
        yield nats_relay(settings, engine, worker_name())
