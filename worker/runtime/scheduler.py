"""Periodic sync cycles on APScheduler 3.11 (the only module that imports it).

One job per target ticks four times per interval (at most every 15 s, at least
every 0.5 s) and starts at once. A tick only *tries* a cycle: the target's lease
in PostgreSQL decides whether this replica runs it (nobody else holds it, and
this interval's cycle has not run yet), so several replicas sync each target
once per interval, and one that dies is replaced within an interval of its
lease expiring. A target's cycle never overlaps itself in one process; missed
ticks collapse into one (``coalesce``). On exit the scheduler stops taking new
runs, lets running cycles finish within the grace period, then cancels what is
left (the pipeline records those runs as ``canceled``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import anyio
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from worker.observability import loggers, metrics
from worker.ports import RunSummary

__all__ = ["SyncScheduler", "tick_seconds"]

log = logging.getLogger(loggers.SCHEDULER)

Cycle = Callable[[str], Awaitable[RunSummary]]


def tick_seconds(interval: float) -> float:
    """How often a target with this poll interval tries to claim its cycle."""
    return max(0.5, min(interval / 4, 15.0))


class SyncScheduler:
    """Tries ``cycle(name)`` several times per ``intervals[name]`` for each target.

    Use as an async context manager; ``started`` is set once jobs are scheduled,
    so readiness reports the truth.
    """

    def __init__(
        self, cycle: Cycle, intervals: dict[str, float], *, grace_seconds: float = 25.0
    ) -> None:
        self._cycle = cycle
        self._intervals = intervals
        self._grace = grace_seconds
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._running = 0
        self._busy: dict[str, float] = {}  # target -> when its running cycle began (monotonic)
        self._idle = anyio.Event()
        self._idle.set()
        self.started = anyio.Event()

    def overdue(self, deadlines: Mapping[str, float]) -> list[str]:
        """Targets whose running cycle began more than their deadline ago (stuck)."""
        now = time.monotonic()
        return sorted(
            name for name, began in self._busy.items() if now - began > deadlines.get(name, 0)
        )

    @property
    def running(self) -> bool:
        """True while the scheduler accepts runs."""
        return bool(self._scheduler.running)

    async def _job(self, name: str) -> None:
        if name in self._busy:  # this target's cycle is still running here
            return
        self._busy[name] = time.monotonic()
        self._running += 1
        self._idle = anyio.Event() if self._running == 1 else self._idle
        try:
            await self._cycle(name)
        except anyio.get_cancelled_exc_class():
            # Shutdown cancels what outlived the grace (the pipeline recorded the run as
            # canceled). This task is APScheduler's own, in no cancel scope of ours: ending
            # it quietly keeps APScheduler from logging the cancellation as a job error.
            log.info("cycle of %s cancelled", name, extra={"event": "scheduler.cancelled"})
        except Exception:
            # The pipeline records failures itself; this is the last line of defence
            # so one target's bug never kills the scheduler.
            provider, _, account = name.partition("/")
            metrics.CYCLES.labels(provider, account, "failed").inc()
            log.exception(
                "cycle of %s crashed", name, extra={"event": "scheduler.crashed", "target": name}
            )
        finally:
            self._busy.pop(name, None)
            self._running -= 1
            if self._running == 0:
                self._idle.set()

    async def __aenter__(self) -> Self:
        now = datetime.now(UTC)
        for name, seconds in self._intervals.items():
            self._scheduler.add_job(
                self._job,
                "interval",
                seconds=tick_seconds(seconds),
                args=[name],
                id=name,
                name=f"sync {name}",
                # A second instance only sees the target busy and returns at once;
                # this keeps APScheduler from warning about skipped ticks.
                max_instances=2,
                coalesce=True,
                next_run_time=now,
                misfire_grace_time=max(1, int(seconds)),
            )
        self._scheduler.start()
        self.started.set()
        log.info(
            "scheduler started with %d targets",
            len(self._intervals),
            extra={"event": "scheduler.started", "targets": sorted(self._intervals)},
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            if self._scheduler.running:
                self._scheduler.pause()
            with anyio.move_on_after(self._grace):
                await self._idle.wait()
            if self._scheduler.running:
                self._scheduler.shutdown(wait=False)  # cancels cycles still running
            # Let cancelled cycles record their runs before the loop moves on.
            with anyio.move_on_after(5):
                await self._idle.wait()
        log.info("scheduler stopped", extra={"event": "scheduler.stopped"})
