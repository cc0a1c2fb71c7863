"""Periodic sync cycles on APScheduler 3.11 (the only module that imports it).

One interval job per target, starting at once; a target's cycle never overlaps
itself (``max_instances=1``) and missed runs collapse into one (``coalesce``).
On exit the scheduler stops taking new runs, lets running cycles finish within
the grace period, then cancels what is left (the pipeline records those runs
as ``canceled``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import anyio
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from worker.ports import RunSummary

__all__ = ["SyncScheduler"]

log = logging.getLogger(__name__)

Cycle = Callable[[str], Awaitable[RunSummary]]


class SyncScheduler:
    """Runs ``cycle(name)`` every ``intervals[name]`` seconds for each target.

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
        self._idle = anyio.Event()
        self._idle.set()
        self.started = anyio.Event()

    @property
    def running(self) -> bool:
        """True while the scheduler accepts runs."""
        return bool(self._scheduler.running)

    async def _job(self, name: str) -> None:
        self._running += 1
        self._idle = anyio.Event() if self._running == 1 else self._idle
        try:
            await self._cycle(name)
        except Exception:
            # The pipeline records failures itself; this is the last line of defence
            # so one target's bug never kills the scheduler.
            log.exception(
                "cycle of %s crashed", name, extra={"event": "scheduler.crashed", "target": name}
            )
        finally:
            self._running -= 1
            if self._running == 0:
                self._idle.set()

    async def __aenter__(self) -> Self:
        now = datetime.now(UTC)
        for name, seconds in self._intervals.items():
            self._scheduler.add_job(
                self._job,
                "interval",
                seconds=seconds,
                args=[name],
                id=name,
                name=f"sync {name}",
                max_instances=1,
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
