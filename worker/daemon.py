"""``campaign-sync run``: the long-running worker Kubernetes runs.

One task group holds the scheduler, the delivery loops (webhook sinks, the
NATS relay), the health endpoints and the signal watcher. SIGTERM or SIGINT
stops new cycles, lets running ones finish within the grace period, then
closes the database and HTTP clients in order.
"""

from __future__ import annotations

import logging
import signal
from contextlib import AsyncExitStack
from functools import partial

import anyio
from sqlalchemy import text

from worker.app import open_runtime
from worker.config import Settings
from worker.health import health_app
from worker.http_server import serve
from worker.scheduler import SyncScheduler

__all__ = ["run_daemon"]

log = logging.getLogger(__name__)


async def run_daemon(
    settings: Settings, *, health_host: str, health_port: int, grace_seconds: float = 25.0
) -> None:
    """Run until SIGTERM or SIGINT."""
    async with open_runtime(settings) as runtime:
        intervals = {t.name: t.poll_interval for t in settings.targets}
        scheduler = SyncScheduler(
            partial(runtime.sync_target, force=False), intervals, grace_seconds=grace_seconds
        )

        async def database_ok() -> bool:
            try:
                with anyio.fail_after(2):
                    async with runtime.engine.connect() as conn:
                        await conn.execute(text("SELECT 1"))
            except Exception:  # noqa: BLE001 - any failure means "not ready"
                return False
            return True

        def scheduler_ok() -> bool:
            return scheduler.started.is_set() and scheduler.running

        async with AsyncExitStack() as stack:
            if health_port:
                url = await stack.enter_async_context(
                    serve(health_app(database_ok, scheduler_ok), host=health_host, port=health_port)
                )
                log.info(
                    "health endpoints on %s", url, extra={"event": "daemon.health", "url": url}
                )
            async with scheduler, anyio.create_task_group() as deliveries:
                for task in runtime.deliveries():
                    deliveries.start_soon(task)
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for signum in signals:
                        log.info(
                            "%s received; stopping",
                            signal.Signals(signum).name,
                            extra={"event": "daemon.stopping"},
                        )
                        break
                deliveries.cancel_scope.cancel()
