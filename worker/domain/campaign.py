"""The one campaign model every provider is normalized into.

A :class:`Campaign` is a frozen snapshot of what one poll saw. Two snapshots of
the same campaign are compared through :meth:`Campaign.content_hash`; equal
hashes mean nothing is written.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import MappingProxyType
from typing import Any

from worker.domain.timestamps import to_iso8601
from worker.domain.windows import CallWindow

__all__ = [
    "TERMINAL_STATUSES",
    "TIME_FIELDS",
    "Campaign",
    "CampaignKey",
    "Counters",
    "PausedBy",
    "Status",
    "TargetKey",
    "canonical_json",
]


class Status(enum.StrEnum):
    """Normalized lifecycle status shared by every provider."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"


TERMINAL_STATUSES = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELED})


class PausedBy(enum.StrEnum):
    """Who paused a campaign, where the provider says."""

    USER = "user"
    SYSTEM = "system"  # the provider paused it because its call window closed


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetKey:
    """One provider account the worker polls: the unit of scheduling and failure."""

    provider: str
    account: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.account}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignKey:
    """Identity of a campaign across polls: provider, account and the provider's id."""

    provider: str
    account: str
    campaign_id: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.account}/{self.campaign_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Counters:
    """Progress counters; ``None`` where the provider does not report one."""

    total_calls: int | None = None
    completed_calls: int | None = None
    failed_calls: int | None = None
    active_calls: int | None = None
    concurrency: int | None = None

    def to_json(self) -> dict[str, int | None]:
        """Plain JSON form."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


TIME_FIELDS = (
    "created_at",
    "scheduled_start_at",
    "scheduled_end_at",
    "paused_at",
    "finished_at",
    "provider_updated_at",
    "last_run_at",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Campaign:
    """One campaign as one poll saw it, normalized.

    Attributes:
        status_raw: the provider's own status value, unchanged.
        status_derived: True when ``status`` was computed by the worker (for
            example VOXO's READY read against its dates), not stated by the provider.
        time_flags: notes on irregular times, e.g. ``scheduled_start_at: gap``
            when a local time fell in a DST gap (see ``timestamps``).
        raw: the provider's record, exactly as received.
    """

    provider: str
    account: str
    campaign_id: str
    name: str | None
    status: Status
    status_raw: str
    status_derived: bool = False
    paused_by: PausedBy | None = None
    counters: Counters = field(default_factory=Counters)
    created_at: datetime | None = None
    scheduled_start_at: datetime | None = None
    scheduled_end_at: datetime | None = None
    paused_at: datetime | None = None
    finished_at: datetime | None = None
    provider_updated_at: datetime | None = None
    last_run_at: datetime | None = None
    call_window: CallWindow | None = None
    time_flags: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in TIME_FIELDS:
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware, got {value!r}")
        # A read-only view keeps the snapshot frozen all the way down its first level.
        object.__setattr__(self, "raw", MappingProxyType(dict(self.raw)))

    @property
    def target(self) -> TargetKey:
        """The provider account this campaign belongs to."""
        return TargetKey(provider=self.provider, account=self.account)

    @property
    def key(self) -> CampaignKey:
        """This campaign's identity."""
        return CampaignKey(
            provider=self.provider, account=self.account, campaign_id=self.campaign_id
        )

    def snapshot(self) -> dict[str, Any]:
        """Normalized fields as plain JSON (no raw payload), for events and hashing."""
        return {
            "campaign_id": self.campaign_id,
            "name": self.name,
            "status": self.status.value,
            "status_raw": self.status_raw,
            "status_derived": self.status_derived,
            "paused_by": None if self.paused_by is None else self.paused_by.value,
            "counters": self.counters.to_json(),
            **{name: _iso(getattr(self, name)) for name in TIME_FIELDS},
            "call_window": None if self.call_window is None else self.call_window.to_json(),
            "time_flags": list(self.time_flags),
        }

    def content_hash(self) -> str:
        """SHA-256 over the normalized fields and the raw payload.

        Any difference a reader could observe, in our columns or in the
        provider's record, changes the hash; key order in the raw JSON does not.
        """
        body = canonical_json({"normalized": self.snapshot(), "raw": dict(self.raw)})
        return hashlib.sha256(body.encode()).hexdigest()


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, non-ASCII kept."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_unwrap
    )


def _unwrap(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else to_iso8601(value)
