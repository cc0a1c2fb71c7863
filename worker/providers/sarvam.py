"""Sarvam scheduling API: offset-paged campaign list and a detail GET per campaign.

Paths sit under ``/v1/orgs/{org_id}/workspaces/{workspace_id}`` below the target's
``base_url`` (``https://apps.sarvam.ai/api/scheduling`` in production); the key
goes in ``X-API-Key``. Facts: docs/providers.md section 4. Choices where Sarvam is silent:

* The list is read with ``sort_by=created_at&sort_order=asc`` so a campaign
  created while we page lands after the pages already read instead of shifting
  every later offset by one. Campaigns that share a ``created_at`` have no
  documented order between requests; offset paging could then repeat or skip
  one of them in a cycle (the next cycle sees it).
* Offsets are known in advance, so after the first page (whose ``total`` says
  how many follow) pages are requested up to ``max_concurrency`` at a time and
  handed on in order; a page whose ``total`` differs from its wave's is read
  again (docs/providers.md 4.2, 5.6).
* With ``fetch_detail`` (the default) a campaign that is new, or whose list
  item changed, is fetched from ``GET …/campaigns/{campaign_id}`` (concurrently,
  bounded by the target's ``max_concurrency``) and the detail is laid over the
  list item, detail winning, so the record carries ``start_timestamp``,
  ``end_timestamp`` and ``allowed_schedule``. The list shows ``status``,
  ``updated_at`` and ``updated_by``, which move on every user edit [I]; an edit
  the list does not show is missed until the campaign's list item moves. A
  detail that fails after retries, or answers 404 for a campaign still listed,
  costs that campaign alone: its stored state is kept this cycle.

How its records read is :class:`worker.domain.dialects.SarvamDialect`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from worker.config import SarvamTarget
from worker.domain.campaign import TargetKey
from worker.domain.dialects import SarvamDialect
from worker.errors import ProviderRejected
from worker.observability import loggers
from worker.observability.redaction import SecretValues
from worker.ports import Clock, Detail, RawRecord
from worker.providers.base import ProviderHttp
from worker.providers.paging import fetch_details, offset_pages
from worker.providers.source import HttpSource, StaticHeaderAuth
from worker.providers.window import offset_window

__all__ = ["SarvamSource"]

log = logging.getLogger(loggers.SARVAM)

ID_FIELD = SarvamDialect.id_field  # the detail path names the campaign by this key


class SarvamSource(HttpSource[SarvamTarget]):
    """Campaigns of one Sarvam workspace through the scheduling API."""

    name: ClassVar[str] = "sarvam"

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
        """Pages of ``GET …/campaigns?limit=&offset=`` (list items; see :meth:`details`),
        in waves of up to ``max_concurrency`` requests."""
        async for page in offset_pages(
            self.target,
            f"GET {self._campaigns_path}",
            self._list_page,
            items_key="items",
            page_size=self.settings.page_size,
            ahead=self.http.settings.max_concurrency,
        ):
            yield page

    @asynccontextmanager
    async def listing(self) -> AsyncIterator[AsyncIterator[Sequence[RawRecord]]]:
        """The same pages, up to ``max_concurrency`` requests kept in flight (no waves)."""
        async with offset_window(
            self.target,
            f"GET {self._campaigns_path}",
            self._list_page,
            items_key="items",
            page_size=self.settings.page_size,
            ahead=self.http.settings.max_concurrency,
        ) as pages:
            yield pages

    @property
    def pages_ahead(self) -> int:
        """Up to ``http.max_concurrency`` offsets are asked for ahead of the page in hand."""
        return self.http.settings.max_concurrency

    async def _list_page(self, offset: int) -> Any:
        params = {
            "limit": self.settings.page_size,
            "offset": offset,
            "sort_by": "created_at",
            "sort_order": "asc",
        }
        return await self.http.request_json("GET", self._campaigns_path, params=params)

    async def details(self, items: Sequence[RawRecord]) -> Sequence[Detail]:
        """``GET …/campaigns/{id}`` merged over each list item (``fetch_detail``)."""
        if not self.settings.fetch_detail:
            return await super().details(items)

        def path_of(item: Any) -> str | None:
            campaign_id = item.get(ID_FIELD) if isinstance(item, Mapping) else None
            # Without a usable id there is nothing to ask for; normalize rejects the item.
            if not isinstance(campaign_id, str) or not campaign_id:
                return None
            return f"{self._campaigns_path}/{quote(campaign_id, safe='')}"

        def merge(item: RawRecord, detail: Any) -> RawRecord:
            if not isinstance(detail, dict):
                raise ProviderRejected(
                    f"GET {self._campaigns_path}/{item.get(ID_FIELD)}: expected a JSON "
                    f"object, got {type(detail).__name__}",
                    target=str(self.target),
                )
            return {**item, **detail}

        return await fetch_details(self.http, items, path_of=path_of, merge=merge)
