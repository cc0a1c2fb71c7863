"""vox.ai v2: ``POST /v2/campaigns/list``, the cursor is the last campaign id.

The v2 list is body-filtered (docs/providers.md 2.2): the request carries
``limit`` (1-500), ``sort_order`` and ``pagination_key``, and the envelope is
``{campaigns, next_cursor, total_count}`` where ``next_cursor`` is the id of
the page's last campaign, or null on the last page. The source sends no
``filter_criteria``: every poll must see the whole fleet to diff it.

How its records read is :class:`worker.domain.dialects.VoxV2Dialect`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import httpx

from worker.config import VoxV2Target
from worker.domain.campaign import TargetKey
from worker.observability.redaction import SecretValues
from worker.ports import Clock, RawRecord
from worker.providers.paging import cursor_pages
from worker.providers.source import HttpSource, StaticHeaderAuth

__all__ = ["LIST_PATH", "VoxV2Source"]

LIST_PATH = "/v2/campaigns/list"


class VoxV2Source(HttpSource[VoxV2Target]):
    """Campaigns of one vox.ai organization through the v2 API."""

    name: ClassVar[str] = "vox_v2"

    @classmethod
    def auth(
        cls, settings: VoxV2Target, target: TargetKey, clock: Clock, secrets: SecretValues
    ) -> httpx.Auth:
        """``Authorization: Bearer <organization key>``."""
        return StaticHeaderAuth("Authorization", f"Bearer {settings.api_key.get_secret_value()}")

    def pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        """Pages of ``POST /v2/campaigns/list`` until ``next_cursor`` is null."""

        async def fetch(cursor: str | None) -> Any:
            body: dict[str, Any] = {"sort_order": "descending", "limit": self.settings.page_size}
            if cursor is not None:
                body["pagination_key"] = cursor
            return await self.http.request_json("POST", LIST_PATH, json_body=body)

        return cursor_pages(self.http.target, f"POST {LIST_PATH}", fetch, items_key="campaigns")
