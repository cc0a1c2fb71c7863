"""How vox.ai's v3 and v2 campaign records read: one status table, the same campaign fields.

The two versions carry the same fields (docs/providers.md 1.4 and 2.4); they differ
in how times are written (v3 unix milliseconds, v2 ISO-8601 with ``Z``) and in
where the agent sits (v3 nests ``agent``; v2 has flat ``agent_id`` and
``agent_version`` and names its ``organization_id``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar

from worker.domain.campaign import Campaign, Counters, PausedBy, Status
from worker.domain.dialects.base import BaseDialect, RawRecord
from worker.domain.records import MISSING, Record
from worker.domain.windows import read_minute_window

__all__ = [
    "VOX_ENUMS",
    "VOX_STATUS",
    "VOX_V2_KEYS",
    "VOX_V3_KEYS",
    "VoxV2Dialect",
    "VoxV3Dialect",
]

# vox's seven documented statuses (docs/providers.md 1.5 and 2.5); "canceled" has one "l".
VOX_STATUS: Mapping[str, Status] = MappingProxyType(
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

# The v3 campaign object's fields (docs/providers.md 1.4).
VOX_V3_KEYS = frozenset(
    {
        "id", "name", "status", "agent", "from_number", "total_calls", "completed_calls",
        "failed_calls", "concurrency", "active_concurrency", "created_at",
        "presentation_number", "scheduled_at", "finished_at", "paused_at", "paused_by",
        "call_time_window",
    }
)  # fmt: skip
# The v2 DTO (docs/providers.md 2.4): flat agent fields and the organization, plus the
# pause fields and window of the response schema that its samples leave out.
VOX_V2_KEYS = (VOX_V3_KEYS - {"agent"}) | {"agent_id", "agent_version", "organization_id"}
VOX_ENUMS: Mapping[str, frozenset[str]] = MappingProxyType(
    {"status": frozenset(VOX_STATUS), "paused_by": frozenset(p.value for p in PausedBy)}
)

TimeReader = Callable[[Record, str], datetime | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class VoxV3Dialect(BaseDialect):
    """A v3 campaign object (docs/providers.md 1.4): every ``*_at`` is integer unix
    milliseconds; ``active_concurrency`` is the number of dials in progress.

    Attributes:
        account: the target's account name, stamped on every Campaign.
    """

    account: str

    name: ClassVar[str] = "vox_v3"
    id_field: ClassVar[str] = "id"
    status_table: ClassVar[Mapping[str, Status]] = VOX_STATUS
    enums: ClassVar[Mapping[str, frozenset[str]]] = VOX_ENUMS
    documented_keys: ClassVar[frozenset[str] | None] = VOX_V3_KEYS

    def normalize(self, raw: RawRecord, *, observed_at: datetime) -> Campaign:
        """Normalize one v3 campaign object. Pure; raises NormalizationError."""
        return _read_vox_campaign(
            Record(raw), raw, provider=self.name, account=self.account, read_time=Record.unix_ms
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class VoxV2Dialect(BaseDialect):
    """A v2 campaign DTO (seed 001, docs/providers.md 2.4).

    ``created_at``, ``scheduled_at``, ``finished_at`` and ``paused_at`` are ISO-8601
    with ``Z``; ``agent_id`` and ``agent_version`` are flat; ``organization_id``
    names the tenant the key belongs to. ``paused_at``, ``paused_by`` and
    ``call_time_window`` are in the response schema but missing from every v2
    sample, so absent reads as null.

    Attributes:
        account: the target's account name, stamped on every Campaign.
        organization_id: when set, a record of another organization is rejected
            (the key belongs to the wrong organization).
    """

    account: str
    organization_id: str | None = None

    name: ClassVar[str] = "vox_v2"
    id_field: ClassVar[str] = "id"
    status_table: ClassVar[Mapping[str, Status]] = VOX_STATUS
    enums: ClassVar[Mapping[str, frozenset[str]]] = VOX_ENUMS
    documented_keys: ClassVar[frozenset[str] | None] = VOX_V2_KEYS

    def normalize(self, raw: RawRecord, *, observed_at: datetime) -> Campaign:
        """Normalize one v2 campaign DTO. Pure; raises NormalizationError."""
        r = Record(raw)
        campaign = _read_vox_campaign(
            r, raw, provider=self.name, account=self.account, read_time=Record.iso8601
        )
        # No column holds these, but a wrong type means the DTO is not the one we read,
        # so it fails here rather than later in a reader of ``raw``, which keeps them.
        organization = r.text("organization_id")
        expected = self.organization_id
        if expected is not None and organization != expected:
            raise r.error("organization_id", f"not this target's organization {expected!r}")
        r.text("agent_id")
        _check_agent_version(r)
        return campaign


def _read_vox_campaign(
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


def _check_agent_version(r: Record) -> None:
    """``agent_version`` is a string or an integer: the v2 sample says ``"production"``,
    the v2 schema says ``integer | null`` (docs/providers.md 2.4), so both are accepted."""
    value = r.raw("agent_version")
    if value is MISSING or value is None or isinstance(value, str):
        return
    if isinstance(value, int) and not isinstance(value, bool):
        return
    raise r.error("agent_version", f"expected string or integer, got {type(value).__name__}")
