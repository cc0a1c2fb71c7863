"""The time a simulator runs on.

Declared here rather than taken from the worker's ports, so a simulator depends on nothing
of the worker it stands in for; every clock in ``worker.clock`` fits it as it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["Clock"]


class Clock(Protocol):
    """Anything that says what time it is."""

    def now(self) -> datetime:
        """The current instant, aware (UTC)."""
        ...
