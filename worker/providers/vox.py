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

__all__ = ["VOX_ENUMS", "VOX_STATUS", "VOX_V2_KEYS", "VOX_V3_KEYS", "read_vox_campaign"]

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

# The v3 campaign object's fields (PROVIDERS.md 1.5).
VOX_V3_KEYS = frozenset(
    {
        "id", "name", "status", "agent", "from_number", "total_calls", "completed_calls",
        "failed_calls", "concurrency", "active_concurrency", "created_at",
        "presentation_number", "scheduled_at", "finished_at", "paused_at", "paused_by",
        "call_time_window",
    }
)  # fmt: skip
# The v2 DTO (PROVIDERS.md 1.3): flat agent fields and the organization, plus the
# pause fields and window of the response schema that its samples leave out.
VOX_V2_KEYS = (VOX_V3_KEYS - {"agent"}) | {"agent_id", "agent_version", "organization_id"}
VOX_ENUMS = MappingProxyType(
    {"status": frozenset(VOX_STATUS), "paused_by": frozenset(p.value for p in PausedBy)}
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
    degraded: list[str] = []
    return Campaign(
        provider=provider,
        account=account,
        campaign_id=campaign_id,
        name=r.text("name"),
        status=VOX_STATUS.get(status_raw, Status.UNKNOWN),
        status_raw=status_raw,
        paused_by=r.lenient_choice("paused_by", PausedBy, degraded),
        counters=Counters(
            total_calls=r.counter("total_calls", degraded),
            completed_calls=r.counter("completed_calls", degraded),
            failed_calls=r.counter("failed_calls", degraded),
            active_calls=r.counter("active_concurrency", degraded),
            concurrency=r.counter("concurrency", degraded),
        ),
        created_at=read_time(r, "created_at"),
        scheduled_start_at=read_time(r, "scheduled_at"),
        paused_at=read_time(r, "paused_at"),
        finished_at=read_time(r, "finished_at"),
        call_window=read_minute_window(r),
        degraded=tuple(degraded),
        raw=raw,
    )
