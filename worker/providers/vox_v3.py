"""vox.ai v3: ``GET /v3/campaigns``, cursor paging (docs/providers.md 1.1-1.2).

How its records read is :class:`worker.domain.dialects.VoxV3Dialect`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import httpx

from worker.config import VoxV3Target
from worker.domain.campaign import TargetKey
from worker.observability.redaction import SecretValues
from worker.ports import Clock, RawRecord
from worker.providers.paging import cursor_pages
from worker.providers.source import HttpSource, StaticHeaderAuth

__all__ = ["VoxV3Source"]


class VoxV3Source(HttpSource[VoxV3Target]):
    """Campaigns of one vox.ai organization through the v3 API."""

    name: ClassVar[str] = "vox_v3"

    @classmethod
    def auth(
        cls, settings: VoxV3Target, target: TargetKey, clock: Clock, secrets: SecretValues
    ) -> httpx.Auth:
        """``Authorization: Bearer <organization key>``."""
        return StaticHeaderAuth("Authorization", f"Bearer {settings.api_key.get_secret_value()}")

    def pages(self) -> AsyncIterator[Sequence[RawRecord]]:
        """Pages of ``GET /v3/campaigns?limit=&cursor=`` until ``next_cursor`` is null."""

        async def fetch(cursor: str | None) -> Any:
            params: dict[str, Any] = {"limit": self.settings.page_size}
            if cursor is not None:
                params["cursor"] = cursor
            return await self.http.request_json("GET", "/v3/campaigns", params=params)

        return cursor_pages(self.http.target, "GET /v3/campaigns", fetch, items_key="items")
