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
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from functools import partial

import anyio
from sqlalchemy.ext.asyncio import AsyncEngine

from worker.app import open_relay, open_runtime, require_schema
from worker.config import Settings
from worker.errors import ConfigError, WorkerError
from worker.health import health_app
from worker.http_server import serve
from worker.scheduler import SyncScheduler
from worker.storage.reporting import outbox_backlog
from worker.watchdog import Watchdog

__all__ = ["run_daemon", "run_relay"]

log = logging.getLogger(__name__)


async def run_daemon(
    settings: Settings, *, health_host: str, health_port: int, grace_seconds: float = 25.0
) -> None:
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
            grace_seconds=grace_seconds,
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


async def _run_daemon(
    settings: Settings,
    signals: AsyncIterator[int],
    *,
    health_host: str,
    health_port: int,
    grace_seconds: float,
) -> None:
    async with open_runtime(settings) as runtime:
        intervals = {t.name: t.poll_interval for t in settings.targets}
        scheduler = SyncScheduler(
            partial(runtime.sync_target, force=False), intervals, grace_seconds=grace_seconds
        )

        watchdog = Watchdog(
            settings.health,
            {t.name: t.limits.cycle_deadline for t in settings.targets},
            scheduler.overdue,
        )

        async def readiness() -> dict[str, bool]:
            return {
                "database": await _schema_current(runtime.engine),
                "scheduler": scheduler.started.is_set() and scheduler.running,
            }

        async with AsyncExitStack() as stack:
            if health_port:
                url = await stack.enter_async_context(
                    serve(
                        health_app(watchdog.problems, readiness), host=health_host, port=health_port
                    )
                )
                log.info(
                    "health endpoints on %s", url, extra={"event": "daemon.health", "url": url}
                )
            async with scheduler, anyio.create_task_group() as deliveries:
                deliveries.start_soon(watchdog.heartbeat)
                deliveries.start_soon(
                    watchdog.export_backlog, partial(outbox_backlog, runtime.engine)
                )
                for task in runtime.deliveries():
                    deliveries.start_soon(task)
                await _until_signal(signals)
                deliveries.cancel_scope.cancel()


async def _schema_current(engine: AsyncEngine) -> bool:
    """The database answers within 2 s and its schema is the one this worker needs."""
    try:
        with anyio.fail_after(2):
            await require_schema(engine)
    except (WorkerError, TimeoutError, OSError):
        return False
    return True
