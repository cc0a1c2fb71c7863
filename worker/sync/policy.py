"""What a cycle of one target may do: its schedule, vanishing rule and limits, as plain values.

The composition root builds these from the target's settings (``worker.config``);
one cycle never reads the configuration itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from worker.ports import Lease

__all__ = ["CycleLimits", "CyclePolicy"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleLimits:
    """Bounds on what one target's provider can make a cycle do.

    The same fields and defaults as a target's ``limits`` settings
    (``worker.config.LimitSettings``), from which the composition root builds it.
    """

    max_pages: int = 10_000  # pages one listing may take; more fails the cycle
    cycle_deadline: float = 3600.0  # seconds one cycle may take; longer fails it
    max_string_chars: int = 65_536  # longest string a stored record may hold
    max_depth: int = 32  # deepest nesting a stored record may have
    prefetch_pages: int = 10  # list pages fetched ahead while one is written
    write_chunk: int = 1000  # records per write transaction
    batch_wait: float = 1.0  # seconds listed records may wait to fill a write transaction
    max_drift_values: int = 50  # distinct undocumented values reported per field
    # Campaigns whose list-item digest is remembered between cycles (see sync.digests).
    max_remembered_campaigns: int = 2_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class CyclePolicy:
    """A target's schedule and vanishing rule, from its settings."""

    interval: float
    misses_to_vanish: int = 1
    limits: CycleLimits = field(default_factory=CycleLimits)
    detail_refresh: float = 0.0  # seconds between full detail refreshes; 0 never

    def full_refresh_due(self, lease: Lease, now: datetime) -> bool:
        """Whether this cycle reads every campaign's detail, changed or not (see
        ``detail_refresh_interval``): never with 0, else when one has not succeeded
        within the interval."""
        last = lease.last_full_refresh_at
        interval = self.detail_refresh
        return interval > 0 and (last is None or (now - last).total_seconds() >= interval)
