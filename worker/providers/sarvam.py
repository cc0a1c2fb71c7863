"""Sarvam scheduling API: offset-paged campaign list, a detail GET per campaign, ISO times.

Paths sit under ``/v1/orgs/{org_id}/workspaces/{workspace_id}`` below the target's
``base_url`` (``https://apps.sarvam.ai/api/scheduling`` in production); the key
goes in ``X-API-Key``. Facts: PROVIDERS.md section 3. Choices where Sarvam is silent:

* The list is read with ``sort_by=created_at&sort_order=asc`` so a campaign
  created while we page lands after the pages already read instead of shifting
  every later offset by one. Campaigns that share a ``created_at`` have no
  documented order between requests; offset paging could then repeat or skip
  one of them in a cycle (the next cycle sees it).
* With ``fetch_detail`` (the default) a campaign that is new, or whose list
  item changed, is fetched from ``GET …/campaigns/{campaign_id}`` (concurrently,
  bounded by the target's ``max_concurrency``) and the detail is laid over the
  list item, detail winning, so the record carries ``start_timestamp``,
  ``end_timestamp`` and ``allowed_schedule``. The list shows ``status``,
  ``updated_at`` and ``updated_by``, which move on every user edit [I]; an edit
  the list does not show is missed until the campaign's list item moves. A
  detail that fails after retries, or answers 404 for a campaign still listed,
  costs that campaign alone: its stored state is kept this cycle.
* ``allowed_schedule.timezone`` defaults to ``Asia/Kolkata`` when absent or
  null, as the docs state; ``allowed_days`` absent or null means every day [I].
  Equal start and end times mean around the clock (a range ending at or before
  its start crosses midnight, see ``worker.domain.windows``).
* Sarvam has no ``finished_at``, ``paused_at`` or ``paused_by``: they stay
  ``None`` (the diff dates a finish by ``updated_at`` when it moved; a pause
  is reported with ``paused_by`` unknown). There are no progress counters.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from worker.config import SarvamTarget
from worker.domain.campaign import Campaign, Status, TargetKey
from worker.domain.records import Record
from worker.domain.windows import read_clock_window
from worker.errors import ProviderRejected
from worker.observability import loggers
from worker.observability.redaction import SecretValues
from worker.ports import Clock, Detail, RawRecord
from worker.providers.base import HttpProvider, ProviderHttp, StaticHeaderAuth
from worker.providers.paging import fetch_details, offset_pages

__all__ = ["DEFAULT_TIMEZONE", "SARVAM_STATUS", "SarvamProvider"]

log = logging.getLogger(loggers.SARVAM)

DEFAULT_TIMEZONE = "Asia/Kolkata"  # documented default of allowed_schedule.timezone

# The five documented statuses (PROVIDERS.md 3.5); note "cancelled" with two "l"s.
SARVAM_STATUS: Mapping[str, Status] = MappingProxyType(
    {
        "scheduled": Status.SCHEDULED,
        "active": Status.RUNNING,
        "paused": Status.PAUSED,
        "ended": Status.COMPLETED,
        "cancelled": Status.CANCELED,
    }
)


# CampaignMetadata (list, PROVIDERS.md 3.3) and what the detail adds (3.4).
SARVAM_KEYS = frozenset(
    {
        "name", "campaign_id", "status", "app_id", "created_by", "created_at", "updated_at",
        "description", "app_type", "app_version", "updated_by", "app_config",
        "start_timestamp", "end_timestamp", "allowed_schedule",
    }
)  # fmt: skip


class SarvamProvider(HttpProvider[SarvamTarget]):
    """Campaigns of one Sarvam workspace through the scheduling API."""

    name: ClassVar[str] = "sarvam"
    id_field: ClassVar[str] = "campaign_id"
    status_table: ClassVar[Mapping[str, Status]] = SARVAM_STATUS
    enums: ClassVar[Mapping[str, frozenset[str]]] = MappingProxyType(
        {"status": frozenset(SARVAM_STATUS)}
    )
    documented_keys: ClassVar[frozenset[str] | None] = SARVAM_KEYS

    def __init__(self, http: ProviderHttp, settings: SarvamTarget) -> None:
        super().__init__(http, settings)
        org, workspace = quote(settings.org_id, safe=""), quote(settings.workspace_id, safe="")
        self._campaigns_path = f"/v1/orgs/{org}/workspaces/{workspace}/campaigns"

    @classmethod
    def auth(
        cls, settings: SarvamTarget, target: TargetKey, clock: Clock, secrets: SecretValues
    ) -> httpx.Auth:
        """``X-API-Key: <workspace key>``."""
        return StaticHeaderAuth("X-API-Key", settings.api_key.get_secret_value())

    async def pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        """Pages of ``GET …/campaigns?limit=&offset=`` (list items; see :meth:`details`)."""
        path = self._campaigns_path

        async def fetch(offset: int) -> Any:
            params = {
                "limit": self.settings.page_size,
                "offset": offset,
                "sort_by": "created_at",
                "sort_order": "asc",
            }
            return await self.http.request_json("GET", path, params=params)

        async for page in offset_pages(self.target, f"GET {path}", fetch, items_key="items"):
            yield page

    @property
    def lists_less(self) -> bool:
        """The list omits what only the detail shows; read with ``fetch_detail``."""
        return self.settings.fetch_detail

    async def details(self, items: Sequence[RawRecord]) -> Sequence[Detail]:
        """``GET …/campaigns/{id}`` merged over each list item (``fetch_detail``)."""
        if not self.settings.fetch_detail:
            return await super().details(items)

        def path_of(item: Any) -> str | None:
            campaign_id = item.get(self.id_field) if isinstance(item, Mapping) else None
            # Without a usable id there is nothing to ask for; normalize rejects the item.
            if not isinstance(campaign_id, str) or not campaign_id:
                return None
            return f"{self._campaigns_path}/{quote(campaign_id, safe='')}"

        def merge(item: RawRecord, detail: Any) -> RawRecord:
            if not isinstance(detail, dict):
                raise ProviderRejected(
                    f"GET {self._campaigns_path}/{item.get(self.id_field)}: expected a JSON "
                    f"object, got {type(detail).__name__}",
                    target=str(self.target),
                )
            return {**item, **detail}

        return await fetch_details(self.http, items, path_of=path_of, merge=merge)

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
            account=self.settings.account,
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
