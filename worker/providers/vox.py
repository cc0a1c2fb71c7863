"""What vox.ai's v2 and v3 campaign APIs share: the status table."""

from __future__ import annotations

from types import MappingProxyType

from worker.domain.campaign import Status

__all__ = ["VOX_STATUS"]

# vox's seven documented statuses (PROVIDERS.md 1.6); note "canceled" with one "l".
VOX_STATUS = MappingProxyType(
    {
        "draft": Status.DRAFT,
        "pending": Status.SCHEDULED,
        "ongoing": Status.RUNNING,
        "paused": Status.PAUSED,
        "success": Status.COMPLETED,
        "fail": Status.FAILED,
        "canceled": Status.CANCELED,
    }
)
