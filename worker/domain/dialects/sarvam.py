"""How Sarvam's scheduling-API campaign records read (docs/providers.md 4.4-4.6; [I] ours).

* Times (``created_at``, ``updated_at``, ``start_timestamp``, ``end_timestamp``)
  are ISO-8601 with ``Z`` or an offset. ``updated_at`` becomes
  ``provider_updated_at``: it orders observations, so an older one is stale.
* ``allowed_schedule.timezone`` defaults to ``Asia/Kolkata`` when absent or
  null, as the docs state; ``allowed_days`` absent or null means every day [I].
  Equal start and end times mean around the clock (a range ending at or before
  its start crosses midnight, see ``worker.domain.windows``).
* Sarvam has no ``finished_at``, ``paused_at`` or ``paused_by``: they stay
  ``None`` (the diff dates a finish by ``updated_at`` when it moved; a pause
  is reported with ``paused_by`` unknown). There are no progress counters.
* ``start_timestamp``, ``end_timestamp`` and ``allowed_schedule`` are in the
  detail only, so the list shows less than the record (``fetch_detail``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar

from worker.domain.campaign import Campaign, Status
from worker.domain.dialects.base import BaseDialect, RawRecord
from worker.domain.records import Record
from worker.domain.windows import read_clock_window

__all__ = ["DEFAULT_TIMEZONE", "SARVAM_KEYS", "SARVAM_STATUS", "SarvamDialect"]

DEFAULT_TIMEZONE = "Asia/Kolkata"  # documented default of allowed_schedule.timezone

# The five documented statuses (docs/providers.md 4.5); "cancelled" has two "l"s.
SARVAM_STATUS: Mapping[str, Status] = MappingProxyType(
    {
        "scheduled": Status.SCHEDULED,
        "active": Status.RUNNING,
        "paused": Status.PAUSED,
        "ended": Status.COMPLETED,
        "cancelled": Status.CANCELED,
    }
)

# CampaignMetadata of the list and what the detail adds (docs/providers.md 4.4; paths 4.2, 4.3).
SARVAM_KEYS = frozenset(
    {
        "name", "campaign_id", "status", "app_id", "created_by", "created_at", "updated_at",
        "description", "app_type", "app_version", "updated_by", "app_config",
        "start_timestamp", "end_timestamp", "allowed_schedule",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class SarvamDialect(BaseDialect):
    """Campaigns of one Sarvam workspace (see the module docstring for every reading rule).

    Attributes:
        account: the target's account name, stamped on every Campaign.
        fetch_detail: the source lays each campaign's detail over its list item.
    """

    account: str
    fetch_detail: bool = True

    name: ClassVar[str] = "sarvam"
    id_field: ClassVar[str] = "campaign_id"
    status_table: ClassVar[Mapping[str, Status]] = SARVAM_STATUS
    enums: ClassVar[Mapping[str, frozenset[str]]] = MappingProxyType(
        {"status": frozenset(SARVAM_STATUS)}
    )
    documented_keys: ClassVar[frozenset[str] | None] = SARVAM_KEYS

    @property
    def lists_less(self) -> bool:
        """The list omits what only the detail shows; it is read with ``fetch_detail``."""
        return self.fetch_detail

    def normalize(self, raw: RawRecord, *, observed_at: datetime) -> Campaign:
        """Normalize one list item or merged detail record. Pure; raises NormalizationError."""
        r = Record(raw)
        campaign_id = r.id("campaign_id")
        status_raw = r.text("status", required=True)
        assert status_raw is not None
        # Not stored, but a non-integer here means the payload drifted from the schema.
        r.integer("app_version", minimum=None)
        return Campaign(
            provider=self.name,
            account=self.account,
            campaign_id=campaign_id,
            name=r.text("name"),
            status=SARVAM_STATUS.get(status_raw, Status.UNKNOWN),
            status_raw=status_raw,
            created_at=r.iso8601("created_at"),
            scheduled_start_at=r.iso8601("start_timestamp"),
            scheduled_end_at=r.iso8601("end_timestamp"),
            provider_updated_at=r.iso8601("updated_at"),
            call_window=read_clock_window(r, default_zone=DEFAULT_TIMEZONE),
            raw=raw,
        )
