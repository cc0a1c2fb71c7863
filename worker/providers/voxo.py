"""VOXO: token login, one unpaged ``GET /v2/call-campaigns`` per tenant, a detail per campaign.

Facts and choices (docs/providers.md 3.1-3.3; [I] marks this source's own reading):

* **Auth.** Email and password log in for a Bearer token, re-login once on a
  401: :class:`~worker.providers.voxo_auth.VoxoTokenAuth`.
* **Paging.** The list is a bare JSON array with no paging. The source reads
  it as it streams, element by element (:mod:`~worker.providers.json_array`), in
  pages of ``page_size`` records, so memory is bounded by a page. With
  ``fetch_detail`` it replaces a list item that is new or changed by its
  ``GET /v2/call-campaigns/{id}`` detail, concurrently (``ProviderHttp``
  bounds the requests in flight).
  ``numbers[].disposition`` moves only in the detail; a dial moves ``lastrun``
  in the list [I], so a campaign that dials is fetched again.
* **Detail fallbacks.** A detail that fails after retries, or answers 404 for
  a campaign the list still shows, costs that campaign alone: its stored state
  is kept this cycle (a new campaign is stored from its list item). An item
  whose ``id`` is not a positive integer is not fetched at all; it goes on as
  listed so the dialect quarantines it.

How its records read (identity, times, window, status) is
:class:`worker.domain.dialects.VoxoDialect`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar

import httpx

from worker.config import VoxoTarget
from worker.domain.campaign import TargetKey
from worker.observability.redaction import SecretValues
from worker.ports import Clock, Detail, RawRecord
from worker.providers.json_array import array_pages
from worker.providers.paging import fetch_details
from worker.providers.source import HttpSource
from worker.providers.voxo_auth import VoxoTokenAuth

__all__ = ["LIST_PATH", "VoxoSource"]

LIST_PATH = "/v2/call-campaigns"


class VoxoSource(HttpSource[VoxoTarget]):
    """Campaigns of one VOXO tenant (see the module docstring)."""

    name: ClassVar[str] = "voxo"

    @classmethod
    def auth(
        cls, settings: VoxoTarget, target: TargetKey, clock: Clock, secrets: SecretValues
    ) -> httpx.Auth:
        """Token auth: log in with email and password, re-login once on a 401.

        Each access token joins ``secrets`` as it arrives.
        """
        return VoxoTokenAuth(
            base_url=settings.base_url,
            email=settings.email,
            password=settings.password,
            target=target,
            clock=clock,
            secrets=secrets,
        )

    def pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        """Pages of ``page_size`` list items from the tenant's one list response.

        An empty list is one empty page. Details come from :meth:`details`.
        """
        return self._pages()

    async def _pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        # The array is read as it streams: what is held is one page, not the tenant.
        async for page in array_pages(
            self.http,
            "GET",
            LIST_PATH,
            params={"tenantId": self.settings.tenant_id},
            page_size=self.settings.page_size,
        ):
            yield page

    async def details(self, items: Sequence[RawRecord]) -> Sequence[Detail]:
        """``GET /v2/call-campaigns/{id}`` in place of each list item (``fetch_detail``)."""
        if not self.settings.fetch_detail:
            return await super().details(items)
        return await fetch_details(self.http, items, path_of=_detail_path, merge=_detail_wins)


def _detail_path(item: Any) -> str | None:
    campaign_id = item.get("id") if isinstance(item, Mapping) else None
    if isinstance(campaign_id, int) and not isinstance(campaign_id, bool) and campaign_id > 0:
        return f"{LIST_PATH}/{campaign_id}"
    return None


def _detail_wins(item: Any, detail: Any) -> Any:
    return detail
