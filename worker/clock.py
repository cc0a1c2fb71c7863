"""Clocks: the only place the worker reads the time.

Everything that needs "now" takes a Clock, so tests, simulators and the demo
control time instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

__all__ = ["AcceleratedClock", "ManualClock", "SystemClock"]


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """The current instant."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to; for tests and deterministic simulations."""

    def __init__(self, start: datetime) -> None:
        if start.utcoffset() is None:
            raise ValueError("ManualClock needs an aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The instant the clock was last set to."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` (never backward); returns the new instant."""
        if delta < timedelta(0):
            raise ValueError("a ManualClock never goes backward")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant``, which must not be earlier than now."""
        with self._lock:
            if instant < self._now:
                raise ValueError("a ManualClock never goes backward")
            self._now = instant.astimezone(UTC)


class AcceleratedClock:
    """Simulated time that runs ``speed`` times faster than real time from ``start``.

    The demo uses one instance for the simulators and the worker, so both agree
    on what "now" is while a simulated day passes in minutes.
    """

    def __init__(self, start: datetime, speed: float) -> None:
        if start.utcoffset() is None:
            raise ValueError("AcceleratedClock needs an aware start time")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> datetime:
        """Simulated now."""
        return self.start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)
