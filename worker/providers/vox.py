"""What vox.ai's v2 and v3 campaign APIs share: the status table and the campaign fields.

The two versions carry the same fields (PROVIDERS.md 1.5); they differ in how
times are written (v3 unix milliseconds, v2 ISO-8601) and in where the agent
sits, which each adapter checks itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import MappingProxyType

from worker.domain.campaign import Campaign, Counters, PausedBy, Status
from worker.domain.records import Record
from worker.domain.windows import read_minute_window
from worker.ports import RawRecord

__all__ = ["VOX_STATUS", "read_vox_campaign"]

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

TimeReader = Callable[[Record, str], datetime | None]


def read_vox_campaign(
    r: Record, raw: RawRecord, *, provider: str, account: str, read_time: TimeReader
) -> Campaign:
    """The Campaign of one vox campaign object; ``read_time`` reads one ``*_at`` field.

    Raises:
        NormalizationError: naming the field and value at fault.
    """
    campaign_id = r.id("id")
    status_raw = r.text("status", required=True)
    assert status_raw is not None
    return Campaign(
        provider=provider,
        account=account,
        campaign_id=campaign_id,
        name=r.text("name"),
        status=VOX_STATUS.get(status_raw, Status.UNKNOWN),
        status_raw=status_raw,
        paused_by=r.choice("paused_by", PausedBy),
        counters=Counters(
            total_calls=r.integer("total_calls"),
            completed_calls=r.integer("completed_calls"),
            failed_calls=r.integer("failed_calls"),
            active_calls=r.integer("active_concurrency"),
            concurrency=r.integer("concurrency"),
        ),
        created_at=read_time(r, "created_at"),
        scheduled_start_at=read_time(r, "scheduled_at"),
        paused_at=read_time(r, "paused_at"),
        finished_at=read_time(r, "finished_at"),
        call_window=read_minute_window(r),
        raw=raw,
    )
