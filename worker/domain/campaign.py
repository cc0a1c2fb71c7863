"""The one campaign model every provider is normalized into.

A :class:`Campaign` is a frozen snapshot of what one poll saw. Two snapshots of
the same campaign are compared through :func:`record_fingerprint` of the
provider's own record: the worker's rendering of it is left out on purpose, so
a release that normalizes a field differently never makes a new version of a
campaign whose provider data did not change.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import orjson

from worker.domain.poison import OversizedInteger, safe_payload
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
    "record_fingerprint",
    "record_id",
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
        return {
            "total_calls": self.total_calls,
            "completed_calls": self.completed_calls,
            "failed_calls": self.failed_calls,
            "active_calls": self.active_calls,
            "concurrency": self.concurrency,
        }


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
        degraded: notes on provider values stored as null instead of rejecting
            the record (a negative counter, an unknown ``paused_by``).
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
    degraded: tuple[str, ...] = ()
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
            "degraded": list(self.degraded),
        }

    def fingerprint(self) -> str:
        """The :func:`record_fingerprint` of the provider's record this snapshot came from."""
        return record_fingerprint(self.raw)


def record_fingerprint(raw: Any) -> str:
    """SHA-256 of the provider's record as sorted-key JSON: equal records, equal prints.

    Only the provider's data goes in, never the worker's rendering of it, so the
    value survives any change of the worker's code. Fixed forever: stored
    fingerprints are compared with fresh ones across releases. Key order does not
    matter; JSON that orjson cannot encode (integers past 64 bits) falls back to
    the standard library's encoder, which is just as deterministic.
    """
    try:
        body = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS, default=_unwrap)
    except TypeError:  # past 64 bits, a lone surrogate, deeper than orjson goes
        try:
            body = canonical_json(raw).encode("utf-8", "surrogatepass")
        except RecursionError:  # deeper than the standard library goes: cut (iteratively)
            body = canonical_json(safe_payload(raw)).encode()
    return hashlib.sha256(body).hexdigest()


def record_id(raw: Any, id_field: str) -> str | None:
    """A record's campaign id read as :meth:`Record.id` reads it, or ``None``.

    Used before normalization, to match a raw record with its stored version and
    to know which campaigns a listing contained.
    """
    value = raw.get(id_field) if isinstance(raw, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text or None


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, non-ASCII kept."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_unwrap
    )


def _unwrap(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, OversizedInteger):  # its record is quarantined, by this print
        return str(value)
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else to_iso8601(value)
