"""What the daemon watches in itself: the event loop's heartbeat, stuck cycles, and the
outbox backlog it exports as metrics.

The heartbeat ticks every second; a loop blocked by a runaway computation or a
blocking call stops it. A cycle is stuck when it has run longer than its
``limits.cycle_deadline`` plus ``health.deadline_slack``: the pipeline cancels
a cycle at its deadline, so one still running later is hung somewhere a
cancellation cannot reach.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

import anyio

from worker.config import HealthSettings
from worker.errors import StorageError
from worker.observability import loggers, metrics
from worker.storage.reporting import Backlog

__all__ = ["Watchdog"]

log = logging.getLogger(loggers.WATCHDOG)

HEARTBEAT_SECONDS = 1.0


class Watchdog:
    """Liveness problems of this process, and the backlog gauges."""

    def __init__(
        self,
        settings: HealthSettings,
        deadlines: Mapping[str, float],
        overdue: Callable[[Mapping[str, float]], list[str]],
    ) -> None:
        self._settings = settings
        self._deadlines = {name: d + settings.deadline_slack for name, d in deadlines.items()}
        self._overdue = overdue
        self._ticked = time.monotonic()

    def problems(self) -> list[str]:
        """Why this process is stuck; empty while it is alive."""
        found: list[str] = []
        silent = time.monotonic() - self._ticked
        if silent > self._settings.stall_seconds:
            found.append(f"the event loop has not ticked for {silent:.0f} s")
        found.extend(
            f"the cycle of {name} has run past its deadline"
            for name in self._overdue(self._deadlines)
        )
        return found

    async def heartbeat(self) -> None:
        """Tick until cancelled."""
        while True:
            self._ticked = time.monotonic()
            await anyio.sleep(HEARTBEAT_SECONDS)

    async def export_backlog(self, read: Callable[[], Awaitable[Backlog]]) -> None:
        """Refresh the backlog gauges every ``health.backlog_seconds`` until cancelled;
        the series of a consumer that is gone (``events consumers --delete``) goes too."""
        exported: set[str] = set()
        while True:
            try:
                backlog = await read()
            except StorageError as exc:  # the database is down: readiness says so
                log.debug("backlog not read: %s", exc, extra={"event": "metrics.backlog_failed"})
            else:
                for gone in exported - backlog.by_consumer.keys():
                    with contextlib.suppress(KeyError):  # another exporter removed it
                        metrics.OUTBOX_BACKLOG.remove(gone)
                exported = set(backlog.by_consumer)
                for consumer, n in backlog.by_consumer.items():
                    metrics.OUTBOX_BACKLOG.labels(consumer).set(n)
                for sink, disabled in backlog.sinks_disabled.items():
                    metrics.WEBHOOK_SINK_DISABLED.labels(sink).set(int(disabled))
            await anyio.sleep(self._settings.backlog_seconds)
