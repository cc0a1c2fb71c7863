"""The rules of leases and runs that every store applies (PostgreSQL and in-memory).

Schedule: a cycle that claims a target at ``now`` makes it due again at the end
of the interval slot ``now`` falls in. Slots are whole multiples of the interval
since the Unix epoch, so each (target, interval) is synced once per slot,
whichever replica ticks first. Pure.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

__all__ = ["ABANDONED", "slot_end"]

# The error recorded on a run closed because its worker stopped renewing its lease.
ABANDONED = "abandoned: the worker running it stopped renewing its lease"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def slot_end(now: datetime, interval: float) -> datetime:
    """The end of the interval slot ``now`` falls in."""
    slots = math.floor((now - _EPOCH).total_seconds() / interval) + 1
    return _EPOCH + timedelta(seconds=slots * interval)
