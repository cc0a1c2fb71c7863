"""``campaign-sync run``: the long-running worker Kubernetes runs.

One task group holds the scheduler, the delivery loops (webhook sinks, the
NATS relay), the health endpoints and the signal watcher. SIGTERM or SIGINT
stops new cycles, lets running ones finish within the grace period, then
closes the database and HTTP clients in order.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import AsyncExitStack
from functools import partial

import anyio

from worker.config import Settings
from worker.errors import ConfigError, EmbeddedDatabaseError, StorageError, WorkerError
from worker.observability import loggers
from worker.runtime.app import Runtime, open_relay, open_runtime
from worker.runtime.database import require_schema
from worker.runtime.health import WriteHealth, health_app
from worker.runtime.heap import settle_heap
from worker.runtime.http_server import serve
from worker.runtime.scheduler import SyncScheduler
from worker.runtime.watchdog import Watchdog
from worker.storage.engine import Database
from worker.storage.reporting import outbox_backlog

__all__ = ["run_daemon", "run_relay"]

log = logging.getLogger(loggers.DAEMON)


async def run_daemon(settings: Settings, *, health_host: str, health_port: int) -> None:
    """Run until SIGTERM or SIGINT.

    Raises:
        WorkerError: a part could not start (the database, the NATS server); the
            first such error, not an ExceptionGroup, so the CLI prints one line.
    """
    # Signals are caught from the start: a SIGTERM during start-up still stops cleanly.
    with _first_worker_error(), _signals() as signals:
        await _run_daemon(
            settings,
            signals,
            health_host=health_host,
            health_port=health_port,
        )


async def run_relay(settings: Settings) -> None:
    """``campaign-sync relay``: only the NATS relay, until SIGTERM or SIGINT."""
    if settings.nats is None:
        raise ConfigError("no `nats:` section in the configuration; the relay has nothing to do")
    with _first_worker_error(), _signals() as signals:
        async with open_relay(settings) as relay, anyio.create_task_group() as group:
            group.start_soon(relay.run)
            await _until_signal(signals)
            group.cancel_scope.cancel()


@contextlib.contextmanager
def _first_worker_error() -> Iterator[None]:
    try:
        yield
    except ExceptionGroup as group:
        errors = group.subgroup(lambda exc: isinstance(exc, WorkerError))
        if errors is None or errors.split(WorkerError)[1] is not None:
            raise
        first: BaseException = errors
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from group


def _signals() -> contextlib.AbstractContextManager[AsyncIterator[int]]:
    return anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT)


async def _until_signal(signals: AsyncIterator[int]) -> None:
    async for signum in signals:
        log.info(
            "%s received; stopping",
            signal.Signals(signum).name,
            extra={"event": "daemon.stopping"},
        )
        return


class _Probes:
    """What the health endpoints report, from start-up on: parts join as they start."""

    def __init__(self) -> None:
        self.watchdog: Watchdog | None = None
        self.engine: Database | None = None
        self.scheduler: SyncScheduler | None = None
        self.writes: WriteHealth | None = None

    def problems(self) -> list[str]:
        return [] if self.watchdog is None else self.watchdog.problems()

    async def readiness(self) -> dict[str, str | None]:
        """Per check, None when it passes, else why not (see ``worker.runtime.health``)."""
        scheduler = self.scheduler
        running = scheduler is not None and scheduler.started.is_set() and scheduler.running
        return {
            "database": (
                "the database is not connected yet"
                if self.engine is None
                else await _schema_problem(self.engine)
            ),
            "scheduler": None if running else "the scheduler is not running",
            "claims": None if self.writes is None else self.writes.problem(),
        }


async def _run_daemon(
    settings: Settings,
    signals: AsyncIterator[int],
    *,
    health_host: str,
    health_port: int,
) -> None:
    probes = _Probes()
    async with AsyncExitStack() as stack:
        if health_port:
            # Up before the database: alive, and not ready, while it is away.
            url = await stack.enter_async_context(
                serve(
                    health_app(probes.problems, probes.readiness),
                    host=health_host,
                    port=health_port,
                )
            )
            log.info("health endpoints on %s", url, extra={"event": "daemon.health", "url": url})
        runtime = await _first_of(_open_when_ready(stack, settings), _until_signal(signals))
        if runtime is None:
            return  # stopped before the database came
        settle_heap()
        intervals = {t.name: t.poll_interval for t in settings.targets}
        scheduler = SyncScheduler(
            partial(runtime.sync_target, force=False),
            intervals,
            grace_seconds=settings.shutdown_grace,
        )
        watchdog = Watchdog(
            settings.health,
            {t.name: t.limits.cycle_deadline for t in settings.targets},
            scheduler.overdue,
        )
        probes.engine, probes.scheduler, probes.watchdog = runtime.engine, scheduler, watchdog
        probes.writes = runtime.writes
        async with scheduler, anyio.create_task_group() as deliveries:
            deliveries.start_soon(watchdog.heartbeat)
            deliveries.start_soon(watchdog.export_backlog, partial(outbox_backlog, runtime.engine))
            for task in runtime.deliveries():
                deliveries.start_soon(task)
            await _until_signal(signals)
            deliveries.cancel_scope.cancel()


# Waits between two tries to reach the database at start-up: 1 s doubling to 30 s.
_FIRST_WAIT, _LONGEST_WAIT = 1.0, 30.0


async def _open_when_ready(stack: AsyncExitStack, settings: Settings) -> Runtime:
    """The runtime, once the database answers with this worker's schema.

    A database that is away or behind (the migration Job not done yet) is waited
    for, with a warning per try, instead of ending the process into a crash loop.
    The embedded server is not waited for: its failures are not transient.
    """
    wait = _FIRST_WAIT
    while True:
        try:
            return await stack.enter_async_context(open_runtime(settings))
        except EmbeddedDatabaseError:
            raise
        except StorageError as exc:
            if settings.database_url is None:
                raise
            log.warning(
                "database not ready (%s); trying again in %g s",
                exc,
                wait,
                extra={"event": "daemon.waiting_for_database", "wait_seconds": wait},
            )
        await anyio.sleep(wait)
        wait = min(wait * 2, _LONGEST_WAIT)


async def _first_of(opening: Awaitable[Runtime], stopping: Awaitable[None]) -> Runtime | None:
    """The runtime, or None when a signal came first."""
    result: list[Runtime] = []
    async with anyio.create_task_group() as group:

        async def open_it() -> None:
            result.append(await opening)
            group.cancel_scope.cancel()

        async def stop_it() -> None:
            await stopping
            group.cancel_scope.cancel()

        group.start_soon(open_it)
        group.start_soon(stop_it)
    return result[0] if result else None


async def _schema_problem(engine: Database) -> str | None:
    """None when the database answers within 2 s with the schema this worker needs."""
    try:
        with anyio.fail_after(2):
            await require_schema(engine)
    except TimeoutError:
        return "the database did not answer within 2 s"
    except (WorkerError, OSError) as exc:
        return str(exc)
    return None
